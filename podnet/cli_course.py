"""The classroom commands of ``podnet``: ``quiz`` (knowledge checks) and ``graph`` (diagrams).

Mirrors the verbs a course around a cluster needs: a graded knowledge check after each lab,
with a JSON record for the instructor, and containerlab's ``graph`` for a picture of the
running lab (SVG, PNG, Mermaid or DOT). Kept apart from :mod:`podnet.cli` so it can grow
with the course; ``cli.build_parser`` hooks it in with :func:`add_parsers` and dispatches
through :data:`HANDLERS`. Handlers take the parsed arguments, print, and return an exit code;
bad input raises :class:`~podnet.errors.InputError` (one line, exit 2).
"""

from __future__ import annotations

import getpass
import json
import os
import sys

from podnet import graph, quiz, state as state_store
from podnet.errors import EXIT_OK, InputError, PodnetError

GRAPH_FORMATS = ("svg", "png", "mermaid", "dot")
EXTENSIONS = {".svg": "svg", ".png": "png", ".mmd": "mermaid", ".mermaid": "mermaid", ".dot": "dot", ".gv": "dot"}


def add_parsers(subparsers) -> None:
    """Add ``quiz`` and ``graph`` to podnet's subcommands."""
    q = subparsers.add_parser("quiz", help="knowledge check: multiple-choice questions with explanations, graded")
    q.add_argument("lab", nargs="?", help="topic (default), a lab number like 01, or a lab name like flat-network")
    q.add_argument("--answers", help="grade without asking, e.g. 1=b,2=a,3=d (unanswered questions count as wrong)")
    q.add_argument("--student", help="name recorded in the result (default: your login name)")
    q.add_argument("--list", action="store_true", help="list the quizzes and their questions' count")
    q.add_argument("-o", "--output", default="table", choices=("table", "json"),
                   help="table, or json: the result record an instructor collects")

    g = subparsers.add_parser("graph", help="draw a running lab: nodes, underlay, Pods, routes or tunnel, Services")
    g.add_argument("--name", help="lab name (default: the only running lab, else podnet)")
    g.add_argument("-f", "--format", choices=GRAPH_FORMATS,
                   help="svg (default), png, mermaid or dot; with -w, guessed from the file's extension")
    g.add_argument("-w", "--write", help="save to this new file (never overwritten) instead of printing")


def _lab_name(given: str | None) -> str:
    """``--name``, or the one lab on the machine, or the default name (as the other commands)."""
    from podnet.cli import _lab_name as choose

    return choose(given)


# -- quiz ---------------------------------------------------------------------------------------

def _default_student() -> str:
    for variable in ("SUDO_USER", "USER", "LOGNAME"):
        value = os.environ.get(variable)
        if value:
            return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "student"


def cmd_quiz(args) -> int:
    if args.list:
        if args.lab or args.answers:
            raise InputError("quiz --list", args.lab or args.answers, "takes no lab and no --answers")
        banks = quiz.load_all()
        if args.output == "json":
            print(json.dumps([{"quiz": b.quiz, "title": b.title, "lab": b.lab, "questions": len(b)} for b in banks],
                             indent=2))
        else:
            width = max(len(b.quiz) for b in banks) if banks else 4
            print(f"{'QUIZ':<{width}}   QUESTIONS   TITLE")
            for b in banks:
                print(f"{b.quiz:<{width}}   {len(b):<9}   {b.title}")
        return EXIT_OK
    student = quiz.check_student(args.student if args.student is not None else _default_student())
    bank = quiz.load(args.lab)
    if args.answers is not None:
        result = quiz.grade(bank, quiz.parse_answers(args.answers, len(bank)))
        if args.output == "json":
            print(json.dumps(quiz.result_json(result, student), indent=2))
        else:
            print(quiz.format_result(bank, result))
        return EXIT_OK
    # Asked one by one: on a terminal, or from lines piped in (one answer per line).
    talk = sys.stderr if args.output == "json" else sys.stdout

    def say(text: str) -> None:
        talk.write(text + "\n")
        talk.flush()

    def ask(prompt: str) -> str:
        talk.write(prompt)
        talk.flush()
        line = sys.stdin.readline()
        if not line:
            talk.write("\n")
            raise EOFError
        if not sys.stdin.isatty():
            talk.write(line if line.endswith("\n") else line + "\n")
        return line

    result = quiz.run_interactive(bank, ask, say)
    if args.output == "json":
        print(json.dumps(quiz.result_json(result, student), indent=2))
    return EXIT_OK


# -- graph --------------------------------------------------------------------------------------

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
        name = _lab_name(args.name)
        lab = state_store.load(name)
    except PermissionError:
        raise PodnetError(f"cannot read the labs' state in {state_store.RUN_DIR}: podnet graph needs root "
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


HANDLERS = {"quiz": cmd_quiz, "graph": cmd_graph}

