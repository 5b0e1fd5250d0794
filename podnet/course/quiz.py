"""Knowledge checks: multiple-choice question banks, grading, and results for the instructor.

Mirrors the "Knowledge Check" at the end of the topic, and the autograded quizzes of a
classroom: a bank per lab (``labs/quiz/<lab>.yaml``, data loaded with ``yaml.safe_load``),
four choices per question and exactly one right, an explanation of why each choice is right
or wrong, a score, and a JSON record of every answer that an instructor can collect.
Deviation: no question pools or shuffling, so the letters a student sees are the letters
``--answers 1=b,2=a`` grades. Pure: no root, no kernel; the only I/O is reading the banks
and whatever the ``ask``/``say`` callables of :func:`run_interactive` do.

A bank::

    quiz: 01-flat-network          # the file's own name, without .yaml
    title: "Lab 01: the flat network"
    lab: 01-flat-network           # the lab it belongs to (absent for the topic's bank)
    questions:
      - id: own-ip                 # unique in the bank: lowercase letters, digits, '-'
        question: What does ...?
        choices:                   # exactly 4, distinct, exactly one with correct: true
          - text: ...
            why: why this choice is right, or why it is wrong
            correct: true
          - text: ...
            why: ...
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import yaml

from podnet.core.errors import InputError
from podnet.course.labfile import LABS_DIR

QUIZ_DIR = os.environ.get("PODNET_QUIZ_DIR", os.path.join(LABS_DIR, "quiz"))
TOPIC = "topic"

LETTERS = "abcd"
CHOICES_PER_QUESTION = len(LETTERS)
MAX_QUESTIONS = 100
MAX_QUESTION_CHARS = 1200
MAX_CHOICE_CHARS = 400
MAX_WHY_CHARS = 1200
MAX_TITLE_CHARS = 120
STUDENT_MAX = 64
MAX_TRIES = 3  # invalid answers in a row before the runner moves on

BANK_KEYS = {"quiz", "title", "lab", "description", "questions"}
QUESTION_KEYS = {"id", "question", "choices"}
CHOICE_KEYS = {"text", "why", "correct"}
_SLUG = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Choice:
    text: str
    why: str
    correct: bool = False


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    choices: tuple[Choice, ...]

    @property
    def answer(self) -> str:
        """The letter of the right choice."""
        return next(LETTERS[i] for i, c in enumerate(self.choices) if c.correct)

    def choice(self, letter: str) -> Choice:
        return self.choices[LETTERS.index(letter)]


@dataclass(frozen=True)
class Bank:
    quiz: str
    title: str
    questions: tuple[Question, ...]
    lab: str | None = None
    description: str = ""
    path: str | None = None

    def __len__(self) -> int:
        return len(self.questions)


@dataclass(frozen=True)
class GradedAnswer:
    number: int  # 1-based, as the student sees it
    id: str
    question: str
    chosen: str | None  # a letter, or None when unanswered
    correct: str
    right: bool
    explanation: str  # why the right choice is right
    chosen_explanation: str | None  # why the chosen choice is wrong (None when right or unanswered)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number, "id": self.id, "question": self.question, "chosen": self.chosen,
            "correct": self.correct, "right": self.right, "explanation": self.explanation,
            "chosenExplanation": self.chosen_explanation,
        }


@dataclass(frozen=True)
class Result:
    quiz: str
    title: str
    answers: tuple[GradedAnswer, ...]

    @property
    def score(self) -> int:
        return sum(1 for a in self.answers if a.right)

    @property
    def total(self) -> int:
        return len(self.answers)


# -- loading and validating ---------------------------------------------------------------------


def _text(where: str, value: object, most: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(where, value, "must be a non-empty string")
    if len(value) > most:
        raise InputError(where, f"{value[:40]}... ({len(value)} characters)", f"must be at most {most} characters")
    if _CONTROL.search(value):
        raise InputError(where, value, "must not contain control characters")
    return " ".join(value.split())  # YAML block scalars: one paragraph, single spaces


def _mapping(where: str, value: object, allowed: set[str], required: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InputError(where, type(value).__name__, "must be a mapping with keys " + ", ".join(sorted(allowed)))
    unknown = sorted((k for k in value if k not in allowed), key=str)
    if unknown:
        raise InputError(f"{where} key", unknown[0], "allowed keys: " + ", ".join(sorted(allowed)))
    missing = sorted(required - set(value))
    if missing:
        raise InputError(f"{where}.{missing[0]}", None, "is required")
    return value


def parse_bank(data: object, source: str = "<bank>", expect_name: str | None = None) -> Bank:
    """Validate one bank's data (as yaml.safe_load returns it); raise InputError naming the
    file, the field and what is allowed on the first problem."""
    top = _mapping(source, data, BANK_KEYS, {"quiz", "title", "questions"})
    quiz = top["quiz"]
    if not isinstance(quiz, str) or not _SLUG.fullmatch(quiz):
        raise InputError(f"{source}: quiz", quiz, "must be a lowercase name of letters, digits and '-'")
    if expect_name is not None and quiz != expect_name:
        raise InputError(f"{source}: quiz", quiz, f"must match the file name ({expect_name})")
    title = _text(f"{source}: title", top["title"], MAX_TITLE_CHARS)
    lab = top.get("lab")
    if lab is not None and (not isinstance(lab, str) or not _SLUG.fullmatch(lab)):
        raise InputError(f"{source}: lab", lab, "must be a lab directory name like 01-flat-network, or absent")
    description = ""
    if top.get("description"):
        description = _text(f"{source}: description", top["description"], MAX_QUESTION_CHARS)
    raw_questions = top["questions"]
    if not isinstance(raw_questions, list) or not raw_questions:
        raise InputError(f"{source}: questions", raw_questions, "must be a non-empty list of questions")
    if len(raw_questions) > MAX_QUESTIONS:
        raise InputError(f"{source}: questions", len(raw_questions), f"must be at most {MAX_QUESTIONS}")
    questions = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_questions):
        where = f"{source}: questions[{index}]"
        entry = _mapping(where, raw, QUESTION_KEYS, QUESTION_KEYS)
        qid = entry["id"]
        if not isinstance(qid, str) or not _SLUG.fullmatch(qid) or len(qid) > 63:
            raise InputError(f"{where}.id", qid, "must be lowercase letters, digits and '-' (at most 63)")
        if qid in seen:
            raise InputError(f"{where}.id", qid, "is already used by another question of this bank")
        seen.add(qid)
        text = _text(f"{where}.question", entry["question"], MAX_QUESTION_CHARS)
        questions.append(Question(qid, text, _parse_choices(where, entry["choices"])))
    return Bank(quiz=quiz, title=title, questions=tuple(questions), lab=lab, description=description, path=source)


def _parse_choices(where: str, raw: object) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or len(raw) != CHOICES_PER_QUESTION:
        count = len(raw) if isinstance(raw, list) else type(raw).__name__
        raise InputError(f"{where}.choices", count, f"must be a list of exactly {CHOICES_PER_QUESTION} choices")
    choices = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        spot = f"{where}.choices[{index}]"
        entry = _mapping(spot, item, CHOICE_KEYS, {"text", "why"})
        text = _text(f"{spot}.text", entry["text"], MAX_CHOICE_CHARS)
        key = text.casefold()
        if key in seen:
            raise InputError(f"{spot}.text", text, f"repeats choice {LETTERS[seen[key]]}: the 4 choices must differ")
        seen[key] = index
        why = _text(f"{spot}.why", entry["why"], MAX_WHY_CHARS)
        correct = entry.get("correct", False)
        if not isinstance(correct, bool):
            raise InputError(f"{spot}.correct", correct, "must be true or false")
        choices.append(Choice(text, why, correct))
    right = [LETTERS[i] for i, c in enumerate(choices) if c.correct]
    if len(right) != 1:
        marked = f"{len(right)} marked correct" + (f" ({', '.join(right)})" if right else "")
        raise InputError(f"{where}.choices", marked, "exactly one choice must have correct: true")
    return tuple(choices)


def load_bank(path: str) -> Bank:
    """Read and validate one bank file; the ``quiz`` field must equal the file's name."""
    name = os.path.basename(path)
    stem = name[:-5] if name.endswith(".yaml") else name
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise InputError("quiz bank", path, "no such file") from None
    except IsADirectoryError:
        raise InputError("quiz bank", path, "is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise InputError("quiz bank", path, "is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise InputError("quiz bank", path, f"is not valid YAML{where}") from None
    return parse_bank(data, path, expect_name=stem)


def bank_names(directory: str | None = None) -> list[str]:
    """The banks in the quiz directory, the topic's first, then the labs' in order."""
    directory = directory or QUIZ_DIR
    try:
        names = [e[:-5] for e in os.listdir(directory) if e.endswith(".yaml") and not e.startswith(".")]
    except FileNotFoundError:
        raise InputError("quiz directory", directory,
                         "does not exist (set PODNET_QUIZ_DIR or run from the repository)") from None
    return sorted(names, key=lambda n: (n != TOPIC, n))


def resolve(name: str | None, directory: str | None = None) -> str:
    """A bank name from what a student typed: nothing or ``topic``, a lab number (``1``,
    ``01``), a lab's full name (``01-flat-network``) or its slug (``flat-network``)."""
    names = bank_names(directory)
    if name is None or name == "":
        name = TOPIC
    if name in names:
        return name
    if name.isdigit():
        matches = [n for n in names if n.split("-", 1)[0].isdigit() and int(n.split("-", 1)[0]) == int(name)]
    else:
        matches = [n for n in names if n.split("-", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    raise InputError("quiz", name, "must be one of " + ", ".join(names) + " (or a lab number like 01)")


def load(name: str | None, directory: str | None = None) -> Bank:
    directory = directory or QUIZ_DIR
    return load_bank(os.path.join(directory, resolve(name, directory) + ".yaml"))


def load_all(directory: str | None = None) -> list[Bank]:
    directory = directory or QUIZ_DIR
    return [load_bank(os.path.join(directory, n + ".yaml")) for n in bank_names(directory)]


# -- answers and grading ------------------------------------------------------------------------


def parse_answers(text: str, count: int | None = None) -> dict[int, str]:
    """``1=b,2=a`` (commas or spaces between pairs, letters in either case) -> {1: 'b', 2: 'a'}."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("answers", text, "give NUMBER=LETTER pairs, e.g. 1=b,2=a,3=d")
    answers: dict[int, str] = {}
    for piece in re.split(r"[,\s]+", text.strip()):
        if not piece:
            continue
        number, sep, letter = piece.partition("=")
        if not sep or not number.strip().isdigit():
            raise InputError("answers", piece, "each answer is NUMBER=LETTER, e.g. 2=c")
        n = int(number)
        letter = letter.strip().lower()
        if n < 1 or (count is not None and n > count):
            allowed = f"from 1 to {count}" if count is not None else "from 1"
            raise InputError("answers", piece, f"question numbers go {allowed}")
        if len(letter) != 1 or letter not in LETTERS:
            raise InputError("answers", piece, "the answer must be one of the letters a, b, c, d")
        if n in answers:
            raise InputError("answers", piece, f"question {n} is answered twice")
        answers[n] = letter
    return answers


def grade(bank: Bank, answers: Mapping[int, str | None]) -> Result:
    """Grade answers by question number (1-based); a missing answer counts as wrong."""
    for number, letter in answers.items():
        if not isinstance(number, int) or not 1 <= number <= len(bank):
            raise InputError("answers", number, f"question numbers go from 1 to {len(bank)}")
        if letter is not None and (not isinstance(letter, str) or len(letter) != 1 or letter.lower() not in LETTERS):
            raise InputError("answers", letter, "the answer must be one of the letters a, b, c, d")
    graded = []
    for number, question in enumerate(bank.questions, start=1):
        chosen = answers.get(number)
        chosen = chosen.lower() if chosen else None
        right = chosen == question.answer
        graded.append(GradedAnswer(
            number=number, id=question.id, question=question.text, chosen=chosen, correct=question.answer,
            right=right, explanation=question.choice(question.answer).why,
            chosen_explanation=question.choice(chosen).why if chosen and not right else None,
        ))
    return Result(bank.quiz, bank.title, tuple(graded))


def check_student(name: object) -> str:
    """A student's name as recorded in results: printable, at most 64 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InputError("student", name, "must be a non-empty name")
    if len(name) > STUDENT_MAX:
        raise InputError("student", name, f"must be at most {STUDENT_MAX} characters")
    if not name.isprintable():
        raise InputError("student", name, "must be printable text (no control characters)")
    return name.strip()


def result_json(result: Result, student: str, finished: _dt.datetime | None = None) -> dict[str, Any]:
    """The record an instructor collects: who, which quiz, the score and every answer."""
    when = finished or _dt.datetime.now(_dt.timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return {
        "student": check_student(student),
        "quiz": result.quiz,
        "score": result.score,
        "total": result.total,
        "answers": [a.to_json() for a in result.answers],
        "finished": when.isoformat(timespec="seconds"),
    }


# -- presenting ---------------------------------------------------------------------------------


def format_question(number: int, total: int, question: Question) -> str:
    lines = [f"Question {number}/{total}: {question.text}"]
    lines += [f"  {LETTERS[i]}) {c.text}" for i, c in enumerate(question.choices)]
    return "\n".join(lines)


def format_feedback(bank: Bank, answer: GradedAnswer) -> str:
    question = bank.questions[answer.number - 1]
    right_text = question.choice(answer.correct).text
    if answer.right:
        return f"Right: {answer.correct}) {right_text}\n  {answer.explanation}"
    if answer.chosen is None:
        lines = ["Not answered."]
    else:
        lines = [f"Not quite: you chose {answer.chosen}) {question.choice(answer.chosen).text}"]
    if answer.chosen_explanation:
        lines.append(f"  {answer.chosen_explanation}")
    lines.append(f"  The answer is {answer.correct}) {right_text}")
    lines.append(f"  {answer.explanation}")
    return "\n".join(lines)


def format_result(bank: Bank, result: Result) -> str:
    """Every question with the student's answer and the explanations, then the score."""
    blocks = [f"{bank.title}"]
    for answer in result.answers:
        mark = "RIGHT" if answer.right else "WRONG"
        feedback = format_feedback(bank, answer).replace("\n", "\n  ")
        blocks.append(f"{answer.number}. [{mark}] {answer.question}\n  {feedback}")
    blocks.append(score_line(result))
    return "\n\n".join(blocks)


def score_line(result: Result) -> str:
    return f"score: {result.score}/{result.total} ({result.quiz})"


def run_interactive(bank: Bank, ask: Callable[[str], str], say: Callable[[str], None],
                    feedback: bool = True) -> Result:
    """Ask every question through ``ask(prompt) -> line`` and talk through ``say(text)``.

    Answers are a letter (a-d), ``s`` to skip, ``q`` to stop (the rest count as unanswered);
    an end of input (``EOFError``) stops too. After each answer the explanation is shown
    when ``feedback`` is on. Returns the graded result; the caller prints or records it."""
    say(f"{bank.title} ({len(bank)} questions; answer a, b, c or d; s skips, q stops)")
    answers: dict[int, str | None] = {}
    stopped = False
    for number, question in enumerate(bank.questions, start=1):
        say("")
        say(format_question(number, len(bank), question))
        letter: str | None = None
        for _ in range(MAX_TRIES):
            try:
                line = ask("your answer: ")
            except EOFError:
                stopped = True
                break
            word = (line or "").strip().lower()
            if word in ("q", "quit"):
                stopped = True
                break
            if word in ("s", "skip"):
                break
            if word.endswith(")"):
                word = word[:-1]
            if len(word) == 1 and word in LETTERS:
                letter = word
                break
            say("please answer a, b, c or d (s skips, q stops)")
        if stopped:
            break
        answers[number] = letter
        if feedback:
            say(format_feedback(bank, grade(bank, answers).answers[number - 1]))
    result = grade(bank, answers)
    say("")
    say(score_line(result))
    return result
