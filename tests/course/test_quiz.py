"""Knowledge checks (podnet.quiz, podnet.cli_course quiz): the banks, grading, answers, JSON."""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os

import pytest
import yaml

from podnet.cli import course as cli_course
from podnet.course import quiz
from podnet.core.errors import InputError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIZ_DIR = os.path.join(REPO, "labs", "quiz")
LAB_BANKS = [
    "01-flat-network", "02-docker-contrast", "03-four-kinds-of-traffic", "04-ip-allocation",
    "05-who-implements-the-model", "06-pod-ips-are-not-stable", "07-packet-capture", "08-break-fix",
    "09-network-policy",
]
ALL_BANKS = ["topic", *LAB_BANKS]


@pytest.fixture(scope="module")
def banks():
    return {b.quiz: b for b in quiz.load_all(QUIZ_DIR)}


def valid_bank_data():
    return {
        "quiz": "sample",
        "title": "A sample",
        "questions": [
            {
                "id": "one",
                "question": "Which?",
                "choices": [
                    {"text": "first", "why": "because"},
                    {"text": "second", "why": "because", "correct": True},
                    {"text": "third", "why": "because"},
                    {"text": "fourth", "why": "because"},
                ],
            },
            {
                "id": "two",
                "question": "And which?",
                "choices": [
                    {"text": "w", "why": "no", "correct": True},
                    {"text": "x", "why": "no"},
                    {"text": "y", "why": "no"},
                    {"text": "z", "why": "no"},
                ],
            },
        ],
    }


# -- the banks on disk ---------------------------------------------------------------------------

def test_every_planned_bank_exists_and_nothing_else(banks):
    assert sorted(banks) == sorted(ALL_BANKS)
    assert quiz.bank_names(QUIZ_DIR) == ALL_BANKS  # the topic first, then the labs in order


@pytest.mark.parametrize("name", ALL_BANKS)
def test_bank_is_well_formed(banks, name):
    bank = banks[name]
    assert bank.quiz == name
    assert bank.lab == (None if name == "topic" else name)
    assert len(bank) >= 3
    for question in bank.questions:
        assert len(question.choices) == 4
        assert sum(c.correct for c in question.choices) == 1
        assert len({c.text.casefold() for c in question.choices}) == 4
        assert all(c.why.strip() for c in question.choices)
        assert question.answer in "abcd"


@pytest.mark.parametrize("name", ALL_BANKS)
def test_right_answers_are_not_always_in_the_same_place(banks, name):
    if len(banks[name]) >= 3:
        assert len({q.answer for q in banks[name].questions}) >= 2


def test_topic_bank_covers_the_three_knowledge_check_questions(banks):
    topic = banks["topic"]
    assert len(topic) == 3
    words = [q.text + " ".join(c.text for c in q.choices if c.correct) for q in topic.questions]
    assert "NAT" in words[0] or "translat" in words[0]
    assert "CNI" in words[1] and "ContainerCreating" in words[1]
    assert "Service" in words[2]


def test_question_ids_are_unique_across_a_bank(banks):
    for bank in banks.values():
        ids = [q.id for q in bank.questions]
        assert len(ids) == len(set(ids))


# -- resolving names -----------------------------------------------------------------------------

@pytest.mark.parametrize("given,expected", [
    (None, "topic"), ("", "topic"), ("topic", "topic"), ("1", "01-flat-network"), ("01", "01-flat-network"),
    ("flat-network", "01-flat-network"), ("08-break-fix", "08-break-fix"), ("break-fix", "08-break-fix"),
])
def test_resolve(given, expected):
    assert quiz.resolve(given, QUIZ_DIR) == expected


@pytest.mark.parametrize("given", ["10", "nope", "../topic", "topic.yaml", "0"])
def test_resolve_refuses_unknown_names(given):
    with pytest.raises(InputError, match="must be one of topic, 01-flat-network"):
        quiz.resolve(given, QUIZ_DIR)


def test_missing_quiz_directory(tmp_path):
    with pytest.raises(InputError, match="quiz directory"):
        quiz.bank_names(str(tmp_path / "absent"))


# -- grading -------------------------------------------------------------------------------------

def test_grade_all_right(banks):
    bank = banks["topic"]
    answers = {i: q.answer for i, q in enumerate(bank.questions, start=1)}
    result = quiz.grade(bank, answers)
    assert (result.score, result.total) == (3, 3)
    assert all(a.right and a.chosen_explanation is None for a in result.answers)


def test_grade_wrong_and_missing_answers():
    bank = quiz.parse_bank(valid_bank_data())
    result = quiz.grade(bank, {1: "C"})
    assert (result.score, result.total) == (0, 2)
    first, second = result.answers
    assert (first.chosen, first.correct, first.right) == ("c", "b", False)
    assert first.explanation == "because" and first.chosen_explanation == "because"
    assert (second.chosen, second.right, second.chosen_explanation) == (None, False, None)
    assert quiz.grade(bank, {1: "b", 2: "a"}).score == 2


@pytest.mark.parametrize("answers", [{0: "a"}, {3: "a"}, {1: "e"}, {1: "ab"}, {"1": "a"}])
def test_grade_refuses_impossible_answers(answers):
    with pytest.raises(InputError):
        quiz.grade(quiz.parse_bank(valid_bank_data()), answers)


# -- parsing --answers ---------------------------------------------------------------------------

def test_parse_answers():
    assert quiz.parse_answers("1=b,2=a") == {1: "b", 2: "a"}
    assert quiz.parse_answers(" 3=D  1=c, ,2=a ", count=4) == {3: "d", 1: "c", 2: "a"}


@pytest.mark.parametrize("text,complaint", [
    ("", "NUMBER=LETTER pairs"),
    ("   ", "NUMBER=LETTER pairs"),
    ("1b", "NUMBER=LETTER"),
    ("a=1", "NUMBER=LETTER"),
    ("1=e", "letters a, b, c, d"),
    ("1=", "letters a, b, c, d"),
    ("1=ab", "letters a, b, c, d"),
    ("0=a", "from 1"),
    ("6=a", "from 1 to 5"),
    ("1=a,1=b", "answered twice"),
    ("-1=a", "NUMBER=LETTER"),
])
def test_parse_answers_errors(text, complaint):
    with pytest.raises(InputError, match=complaint) as info:
        quiz.parse_answers(text, count=5)
    assert info.value.field == "answers"


# -- the instructor's record ---------------------------------------------------------------------

def test_result_json_shape(banks):
    bank = banks["01-flat-network"]
    result = quiz.grade(bank, {1: bank.questions[0].answer, 2: "a" if bank.questions[1].answer != "a" else "b"})
    when = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.timezone.utc)
    record = quiz.result_json(result, "Ada Lovelace", when)
    assert list(record) == ["student", "quiz", "score", "total", "answers", "finished"]
    assert record["student"] == "Ada Lovelace"
    assert record["quiz"] == "01-flat-network"
    assert (record["score"], record["total"]) == (1, len(bank))
    assert record["finished"] == "2024-05-01T09:30:00+00:00"
    assert dt.datetime.fromisoformat(record["finished"]) == when
    assert len(record["answers"]) == len(bank)
    first, second, third = record["answers"][:3]
    assert set(first) == {"number", "id", "question", "chosen", "correct", "right", "explanation", "chosenExplanation"}
    assert first["right"] is True and first["number"] == 1
    assert second["right"] is False and second["chosenExplanation"]
    assert third["chosen"] is None and third["right"] is False
    json.dumps(record)  # serialisable as it is


def test_result_json_default_time_is_now_in_utc():
    result = quiz.grade(quiz.parse_bank(valid_bank_data()), {})
    finished = dt.datetime.fromisoformat(quiz.result_json(result, "x")["finished"])
    assert finished.tzinfo is not None
    assert abs((dt.datetime.now(dt.timezone.utc) - finished).total_seconds()) < 60


@pytest.mark.parametrize("name", ["", "   ", "a" * 65, "tab\there", "esc\x1b[0m", None])
def test_student_names_are_checked(name):
    with pytest.raises(InputError) as info:
        quiz.check_student(name)
    assert info.value.field == "student"


# -- the interactive runner ----------------------------------------------------------------------

def scripted(lines):
    said, prompts = [], []
    feed = iter(lines)

    def ask(prompt):
        prompts.append(prompt)
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    return ask, said.append, said, prompts


def test_interactive_runner_grades_and_explains():
    bank = quiz.parse_bank(valid_bank_data())
    ask, say, said, prompts = scripted(["x", "B", "c)"])
    result = quiz.run_interactive(bank, ask, say)
    assert [a.chosen for a in result.answers] == ["b", "c"]
    assert result.score == 1
    text = "\n".join(said)
    assert "Question 1/2: Which?" in text and "  b) second" in text
    assert "please answer a, b, c or d" in text
    assert "Right: b) second" in text
    assert "Not quite: you chose c) y" in text and "The answer is a) w" in text
    assert text.rstrip().endswith("score: 1/2 (sample)")
    assert len(prompts) == 3


def test_interactive_runner_skip_quit_and_end_of_input():
    bank = quiz.parse_bank(valid_bank_data())
    ask, say, said, _ = scripted(["s", "q"])
    result = quiz.run_interactive(bank, ask, say)
    assert [a.chosen for a in result.answers] == [None, None] and result.score == 0
    ask, say, said, _ = scripted([])  # end of input at once
    assert quiz.run_interactive(bank, ask, say).score == 0
    ask, say, said, _ = scripted(["?", "?", "?", "a"])  # three bad tries: move on
    result = quiz.run_interactive(bank, ask, say)
    assert [a.chosen for a in result.answers] == [None, "a"]


# -- malformed banks -----------------------------------------------------------------------------

def _broken(change):
    data = valid_bank_data()
    change(data)
    return data


@pytest.mark.parametrize("change,field,allowed", [
    (lambda d: d.pop("title"), "title", "is required"),
    (lambda d: d.update(extra=1), "key", "allowed keys"),
    (lambda d: d.update(quiz="Bad Name"), "quiz", "lowercase"),
    (lambda d: d.update(lab="../x"), "lab", "lab directory name"),
    (lambda d: d.update(questions=[]), "questions", "non-empty list"),
    (lambda d: d.update(questions="one"), "questions", "non-empty list"),
    (lambda d: d["questions"][0].update(id="Bad!"), "questions[0].id", "lowercase"),
    (lambda d: d["questions"][1].update(id="one"), "questions[1].id", "already used"),
    (lambda d: d["questions"][0].update(question=""), "questions[0].question", "non-empty string"),
    (lambda d: d["questions"][0].update(question=42), "questions[0].question", "non-empty string"),
    (lambda d: d["questions"][0]["choices"].pop(), "questions[0].choices", "exactly 4"),
    (lambda d: d["questions"][0]["choices"].append({"text": "fifth", "why": "x"}), "questions[0].choices", "exactly 4"),
    (lambda d: d["questions"][0].update(choices={"a": "x"}), "questions[0].choices", "exactly 4"),
    (lambda d: d["questions"][0]["choices"][0].update(correct=True), "questions[0].choices", "exactly one"),
    (lambda d: d["questions"][0]["choices"][1].pop("correct"), "questions[0].choices", "exactly one"),
    (lambda d: d["questions"][0]["choices"][1].update(correct="yes"), "choices[1].correct", "true or false"),
    (lambda d: d["questions"][0]["choices"][2].update(text="FIRST"), "choices[2].text", "must differ"),
    (lambda d: d["questions"][0]["choices"][2].pop("why"), "choices[2].why", "is required"),
    (lambda d: d["questions"][0]["choices"][2].update(hint="x"), "choices[2] key", "allowed keys"),
    (lambda d: d["questions"][0]["choices"].__setitem__(3, "just text"), "choices[3]", "must be a mapping"),
    (lambda d: d["questions"][0].update(question="bell\x07"), "question", "control characters"),
    (lambda d: d["questions"][0].update(question="x" * 5000), "question", "at most"),
])
def test_malformed_bank_errors_name_field_value_and_rule(change, field, allowed):
    with pytest.raises(InputError) as info:
        quiz.parse_bank(_broken(change), "bank.yaml")
    assert field in info.value.field
    assert info.value.field.startswith("bank.yaml")
    assert allowed in info.value.allowed
    assert str(info.value).startswith("invalid bank.yaml")


def test_malformed_files(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("quiz: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"not valid YAML \(line"):
        quiz.load_bank(str(bad_yaml))
    not_mapping = tmp_path / "list.yaml"
    not_mapping.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(InputError, match="must be a mapping"):
        quiz.load_bank(str(not_mapping))
    renamed = tmp_path / "other.yaml"
    renamed.write_text(yaml.safe_dump(valid_bank_data()), encoding="utf-8")
    with pytest.raises(InputError, match=r"must match the file name \(other\)"):
        quiz.load_bank(str(renamed))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError):
        quiz.load_bank(str(binary))
    with pytest.raises(InputError, match="no such file"):
        quiz.load_bank(str(tmp_path / "absent.yaml"))


def test_a_valid_file_round_trips(tmp_path):
    path = tmp_path / "sample.yaml"
    path.write_text(yaml.safe_dump(valid_bank_data()), encoding="utf-8")
    bank = quiz.load_bank(str(path))
    assert bank.quiz == "sample" and [q.answer for q in bank.questions] == ["b", "a"]
    assert copy.deepcopy(valid_bank_data()) == valid_bank_data()


# -- the command ---------------------------------------------------------------------------------

@pytest.fixture
def cli():
    parser = argparse.ArgumentParser(prog="podnet")
    cli_course.add_parsers(parser.add_subparsers(dest="command", required=True))

    def run(*argv):
        args = parser.parse_args(list(argv))
        return cli_course.HANDLERS[args.command](args)

    return run


def test_cmd_quiz_answers_json(cli, capsys, banks):
    bank = banks["topic"]
    answers = ",".join(f"{i}={q.answer}" for i, q in enumerate(bank.questions, start=1))
    assert cli("quiz", "--answers", answers, "--student", "sam", "-o", "json") == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["student"], record["quiz"], record["score"], record["total"]) == ("sam", "topic", 3, 3)


def test_cmd_quiz_answers_table(cli, capsys):
    assert cli("quiz", "02", "--answers", "1=a", "--student", "sam") == 0
    out = capsys.readouterr().out
    assert "1. [RIGHT]" in out and "2. [WRONG]" in out and "Not answered." in out
    assert out.rstrip().endswith("score: 1/4 (02-docker-contrast)")


def test_cmd_quiz_list(cli, capsys):
    assert cli("quiz", "--list") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["QUIZ", "QUESTIONS", "TITLE"]
    assert all(name in out for name in ALL_BANKS)
    assert cli("quiz", "--list", "-o", "json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [entry["quiz"] for entry in listed] == ALL_BANKS


def test_cmd_quiz_interactive_from_stdin(cli, capsys, monkeypatch, banks):
    import io

    bank = banks["topic"]
    wrong = next(letter for letter in "abcd" if letter != bank.questions[0].answer)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{wrong}\n{bank.questions[1].answer}\n"))
    assert cli("quiz", "topic", "--student", "kim", "-o", "json") == 0
    captured = capsys.readouterr()
    record = json.loads(captured.out)  # stdout is the record only; the questions went to stderr
    assert [a["chosen"] for a in record["answers"]] == [wrong, bank.questions[1].answer, None]
    assert record["score"] == 1
    assert "Question 1/3" in captured.err


@pytest.mark.parametrize("argv,field", [
    (("quiz", "99", "--student", "x"), "quiz"),
    (("quiz", "01", "--answers", "1=z", "--student", "x"), "answers"),
    (("quiz", "--list", "01"), "quiz --list"),
    (("quiz", "--answers", "1=a", "--student", ""), "student"),
])
def test_cmd_quiz_bad_input(cli, argv, field):
    with pytest.raises(InputError) as info:
        cli(*argv)
    assert info.value.field == field
