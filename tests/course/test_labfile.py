"""Lab files: every shipped lab loads and is complete; bad lab files are refused clearly."""

from __future__ import annotations

import os

import pytest

from podnet.lab.initial import initial_state
from podnet.course import quiz
from podnet.course import labfile
from podnet.course.templates import resolve
from podnet.core.errors import InputError
from podnet.core.model import RUNNING
from podnet.core.spec import build_spec

LABS = labfile.load_all()


def test_labs_load_and_ids_are_unique():
    ids = [lab.id for lab in LABS]
    assert ids and len(ids) == len(set(ids)), ids
    assert all(lab.lab_name.startswith("lab-") and len(lab.lab_name) <= 40 for lab in LABS)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.id)
def test_every_lab_is_complete(lab):
    assert os.path.isfile(labfile.readme_path(lab)), "README.md"
    assert os.path.isfile(os.path.join(lab.directory, "solution", "README.md")), "solution/README.md"
    assert lab.checks, "checks"
    assert lab.solution, "a solution with steps"
    if lab.quiz:
        assert lab.quiz in quiz.bank_names(), lab.quiz
    for step in list(lab.start) + list(lab.solution):
        action, value = next(iter(step.items()))
        if action in ("apply", "copy"):
            path = value if isinstance(value, str) else value["from"]
            assert os.path.isfile(labfile.lab_dir_file(lab, path)), path
        if action == "up":
            assert os.path.isfile(labfile.lab_dir_file(lab, value["topology"]))
    with open(labfile.readme_path(lab), encoding="utf-8") as handle:
        text = handle.read()
    assert "podnet lab check" in text and len(text) > 800, "the README tells the student how to check"


def test_find_accepts_numbers_names_and_exercises():
    first = LABS[0]
    for word in (str(first.number), f"{first.number:02d}", first.slug, f"{first.number:02d}-{first.slug}"):
        assert [lab.id for lab in labfile.find(LABS, word)][0] == first.id
    with pytest.raises(InputError, match="no such lab"):
        labfile.find(LABS, "99")
    exercises = [lab for lab in LABS if "/" in lab.id]
    if exercises:
        number, name = exercises[0].id.split("/")
        assert [lab.id for lab in labfile.find(LABS, f"{number}/{name}")] == [exercises[0].id]
        assert len(labfile.find(LABS, number)) == sum(1 for lab in LABS if lab.number == int(number))


def _write(tmp_path, name: str, text: str) -> str:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "lab.yaml").write_text(text)
    return str(directory)


@pytest.mark.parametrize("text, words", [
    ("title: x\ngoal: y\nchecks: []\n", "at least one check"),
    ("title: x\ngoal: y\nbogus: 1\nchecks: [{name: a, type: pods}]\n", "allowed keys"),
    ("title: x\ngoal: y\nchecks: [{name: a, type: teleport}]\n", "one of"),
    ("title: x\ngoal: y\nstart: [{rm: -rf}]\nchecks: [{name: a, type: pods}]\n", "each step is one of"),
    ("title: x\ngoal: y\nchecks: [{name: a, type: pods}, {name: a, type: nodes}]\n", "unique"),
    ("goal: y\nchecks: [{name: a, type: pods}]\n", "title"),
    ("title: x\ngoal: y\nnumber: 7\nchecks: [{name: a, type: pods}]\n", "must match the directory"),
    ("title: [\n", "not valid YAML"),
])
def test_bad_lab_files_are_refused(tmp_path, text, words):
    directory = _write(tmp_path, "05-demo", text)
    with pytest.raises(InputError) as info:
        labfile.load_directory(directory)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_paths_may_not_leave_the_lab_directory(tmp_path):
    directory = _write(tmp_path, "05-demo", "title: x\ngoal: y\nchecks: [{name: a, type: pods}]\n")
    [lab] = labfile.load_directory(directory)
    for bad in ("../../etc/passwd", "/etc/passwd", ""):
        with pytest.raises(InputError):
            labfile.lab_dir_file(lab, bad)
    assert labfile.lab_dir_file(lab, "start/x.yaml").startswith(directory)


def test_templates_resolve_from_the_lab_state():
    spec = build_spec(name="lab-01", nodes=[("node-1", "control-plane"), ("node-2", "worker")],
                      pods=[("pod-1-1", "node-1"), ("pod-2-1", "node-2")])
    state = initial_state(spec)
    for i, pod in enumerate(state.pods.values()):
        pod.phase, pod.ip = RUNNING, f"10.244.{i}.2"
    assert resolve(state, "{pod-ip:pod-2-1}") == "10.244.1.2"
    assert resolve(state, "{node-ip:node-2}") == state.nodes["node-2"].internal_ip
    assert resolve(state, "to {pod-ip:pod-1-1}:80") == "to 10.244.0.2:80"
    assert resolve(state, "{count-phase:Running}") == 2
    assert resolve(state, "{nodes-with-cidr}") == 2
    assert resolve(state, 42) == 42
    with pytest.raises(InputError):
        resolve(state, "{pod-ip:nope}")
    with pytest.raises(InputError):
        resolve(state, "{teleport:x}")
