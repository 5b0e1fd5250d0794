"""``podnet graph``: a picture of the running lab, as containerlab's ``graph`` draws a topology.

Mirrors the topic's figure, drawn from the lab's own state: SVG (default), PNG, Mermaid or
DOT, printed or saved to a new file (never overwritten, never through a symlink). Reads need
root only because the labs' state is root's.
"""

from __future__ import annotations

import os
import sys

from podnet.cli.common import lab_name
from podnet.core.errors import EXIT_OK, InputError, PodnetError
from podnet.kernel import state_file
from podnet.views import graph

GRAPH_FORMATS = ("svg", "png", "mermaid", "dot")
EXTENSIONS = {".svg": "svg", ".png": "png", ".mmd": "mermaid", ".mermaid": "mermaid", ".dot": "dot", ".gv": "dot"}


def add_parsers(sub) -> None:
    g = sub.add_parser("graph", help="draw a running lab: nodes, underlay, Pods, routes or tunnel, Services")
    g.add_argument("--name", help="lab name (default: the only running lab, else podnet)")
    g.add_argument("-f", "--format", choices=GRAPH_FORMATS,
                   help="svg (default), png, mermaid or dot; with -w, guessed from the file's extension")
    g.add_argument("-w", "--write", help="save to this new file (never overwritten) instead of printing")


def _graph_format(args) -> str:
    if args.format:
        return args.format
    if args.write:
        ext = os.path.splitext(args.write)[1].lower()
        if ext in EXTENSIONS:
            return EXTENSIONS[ext]
        raise InputError("output file", args.write, "give -f svg|png|mermaid|dot, or a name ending in "
                         + ", ".join(sorted(EXTENSIONS)))
    return "svg"


def _open_new(path: str):
    """Create ``path`` for writing: refuses symlinks and existing files; mode 0644."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError("output file", path, f"its directory {directory} does not exist")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        raise InputError("output file", path, "already exists (podnet never overwrites; pick another name)") from None
    except OSError as exc:
        raise InputError("output file", path, f"cannot be created: {exc.strerror}") from None
    return os.fdopen(fd, "wb")


def cmd_graph(args) -> int:
    fmt = _graph_format(args)
    if fmt == "png" and not args.write and sys.stdout.isatty():
        raise InputError("format", fmt, "a PNG is binary: save it with -w FILE.png (or pipe the output)")
    try:
        name = lab_name(args.name)
        lab = state_file.load(name)
    except PermissionError:
        raise PodnetError(f"cannot read the labs' state in {state_file.RUN_DIR}: podnet graph needs root "
                          "(run it with sudo)") from None
    if fmt == "svg":
        data = graph.to_svg(lab).encode("utf-8")
    elif fmt == "png":
        data = graph.to_png(graph.to_svg(lab))
    elif fmt == "mermaid":
        data = graph.to_mermaid(lab).encode("utf-8")
    else:
        data = graph.to_dot(lab).encode("utf-8")
    if not args.write:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return EXIT_OK
    output = _open_new(args.write)
    try:
        output.write(data)
    except BaseException:
        output.close()
        os.unlink(args.write)
        raise
    output.close()
    print(f"{fmt} of lab {name} ({len(lab.nodes)} nodes, {len(lab.pods)} Pods, {len(lab.services)} Services) "
          f"written to {args.write}")
    return EXIT_OK


HANDLERS = {"graph": cmd_graph}
