"""The ``podnet`` command: the parser assembled from every verb group, and the dispatcher.

Mirrors the verbs of the tools students meet next to a cluster: containerlab's lab lifecycle
(``up``/``down``/``list``/``clean``), kubectl's reads and writes (``get``, ``describe``,
``exec``, ``apply``, ``delete``), Mininet's CLI (``up`` in the foreground, or ``cli``), and
podnet's own probes, course and diagrams. Each verb group is one module of this package with
``add_parsers`` and ``HANDLERS``; this module only routes, configures logging and turns
errors into one line and an exit code: 0 success, 1 a failed check or command, 2 bad input,
130 interrupted.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

from podnet.cli import classroom, course, graph, kube, labs, lifecycle, network, probes, reads, traffic, web, workloads
from podnet.cli.common import PROG, Parser, Terminated, on_signal
from podnet.core.errors import EXIT_FAILED, EXIT_INTERRUPTED, PodnetError

VERB_GROUPS = (lifecycle, reads, workloads, network, probes, traffic, labs, course, graph, web, kube, classroom)
HANDLERS = {verb: handler for group in VERB_GROUPS for verb, handler in group.HANDLERS.items()}


def build_parser() -> Parser:
    parser = Parser(prog=PROG, description="The Kubernetes network model on one Linux machine.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what podnet does")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for group in VERB_GROUPS:
        group.add_parsers(sub)
    sub.add_parser("bench", help="time up and down of clusters of several sizes (see 'podnet bench --help')",
                   add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from podnet.cli import bench  # its own flags, parsed by its own parser

        return bench.main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    _configure_logging(args.verbose)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # every verb cleans up what it started, as on Ctrl-C
        if signal.getsignal(sig) is signal.SIG_DFL and threading.current_thread() is threading.main_thread():
            signal.signal(sig, on_signal)
    try:
        return HANDLERS[args.command](args)
    except PodnetError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return exc.exit_code
    except (KeyboardInterrupt, Terminated) as exc:
        sys.stderr.write(f"{PROG}: {'terminated' if isinstance(exc, Terminated) else 'interrupted'}\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILED
    except PermissionError as exc:
        sys.stderr.write(f"{PROG}: permission denied ({exc.filename or exc}): podnet needs root (run it with sudo)\n")
        return EXIT_FAILED
    except Exception as exc:  # a bug: say so in one line; -v shows the traceback
        if args.verbose:
            raise
        sys.stderr.write(f"{PROG}: internal error: {type(exc).__name__}: {exc} (run with -v for details)\n")
        return EXIT_FAILED


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    ours = logging.getLogger("podnet")
    ours.addHandler(handler)
    ours.setLevel(logging.INFO if verbose else logging.WARNING)
