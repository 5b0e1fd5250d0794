"""``podnet quiz``: the knowledge checks of the course, graded, with a record for the instructor.

Mirrors the "Knowledge Check" at the end of the topic and a classroom's autograded quiz: asked
one by one on a terminal (or from answers piped in, one per line), or graded at once with
``--answers 1=b,2=a``; ``-o json`` is the result record an instructor collects. Exit codes:
0 graded, 2 bad input.
"""

from __future__ import annotations

import getpass
import json
import os
import sys

from podnet.core.errors import EXIT_OK, InputError
from podnet.course import quiz


def add_parsers(sub) -> None:
    q = sub.add_parser("quiz", help="knowledge check: multiple-choice questions with explanations, graded")
    q.add_argument("lab", nargs="?", help="topic (default), a lab number like 01, or a lab name like flat-network")
    q.add_argument("--answers", help="grade without asking, e.g. 1=b,2=a,3=d (unanswered questions count as wrong)")
    q.add_argument("--student", help="name recorded in the result (default: your login name)")
    q.add_argument("--list", action="store_true", help="list the quizzes and their questions' count")
    q.add_argument("-o", "--output", default="table", choices=("table", "json"),
                   help="table, or json: the result record an instructor collects")


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


HANDLERS = {"quiz": cmd_quiz}
