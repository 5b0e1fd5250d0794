"""``podnet web``: the running lab live in a browser, for a projector or a student's screen.

Mirrors ``kubectl proxy``'s stance: loopback unless told otherwise, and read-only unless told
otherwise. Checks everything before listening: the port (1-65535, or 0 for any free one), the
address (an IP literal; anything but loopback only when given), the lab (it must exist).
Prints where it serves (``-o json``: one JSON line, for scripts), then serves until Ctrl-C.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import sys

from podnet.cli.common import add_output, check_listen, lab_name
from podnet.core.addressing import parse_int
from podnet.core.errors import EXIT_OK, InputError, PodnetError
from podnet.kernel import state_file

DEFAULT_PORT = 8080
DEFAULT_LISTEN = "127.0.0.1"


def add_parsers(sub) -> None:
    p = sub.add_parser("web", help="serve the running lab as a live page: the figure, packets hop by hop, the matrix")
    p.add_argument("--name", help="lab name (default: the only running lab, else podnet)")
    p.add_argument("--port", default=str(DEFAULT_PORT), help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--listen", default=DEFAULT_LISTEN,
                   help=f"address to listen on (default {DEFAULT_LISTEN}; another one must be asked for)")
    p.add_argument("--allow-actions", action="store_true",
                   help="let the page run probes, traces, requests, the matrix, captures and lab checks")
    add_output(p)


def cmd_web(args) -> int:
    port = parse_int("port", args.port, 0, 65535)
    listen = check_listen(args.listen)
    name = lab_name(args.name)
    try:
        if state_file.load_raw(name) is None:
            raise InputError("name", name, "no such lab is running (see 'podnet list')")
    except PermissionError:
        raise PodnetError(f"cannot read the labs' state in {state_file.RUN_DIR}: podnet web needs root "
                          "(run it with sudo)") from None
    from podnet.web import server  # aiohttp is imported only when a page is served

    def ready(host: str, bound: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{bound}/"
        if args.output == "json":
            print(json.dumps({"lab": name, "url": url, "listen": host, "port": bound,
                              "allowActions": args.allow_actions}), flush=True)
            return
        mode = "actions allowed" if args.allow_actions else "read-only (--allow-actions lets the page run probes)"
        print(f"podnet web: lab {name} at {url} ({mode}); Ctrl-C stops", flush=True)
        if not ipaddress.ip_address(host).is_loopback:
            print(f"podnet web: listening on {host}: anyone who can reach it sees the lab", file=sys.stderr, flush=True)

    try:
        server.serve(name, listen, port, args.allow_actions, ready)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PodnetError(f"port {port} on {listen} is in use: pick another with --port (or 0 for any)") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise InputError("listen", listen, "is not an address of this machine") from None
        raise
    return EXIT_OK


HANDLERS = {"web": cmd_web}
