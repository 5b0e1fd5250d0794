"""Lab files: what a classroom exercise builds, breaks, fixes and checks, as data.

Mirrors the declarative checks of netlab's ``validate`` and the exercise directories of
p4lang/tutorials: each ``labs/NN-slug/lab.yaml`` names a topology (the keys of a topology
file), the steps that set up the starting state (``start``), the steps of a solution
(``solution``) and the checks that grade the student's lab (``checks``). A lab with
``exercises`` (the break-fix lab) holds several such sub-labs, addressed as ``NN/name``.
Files are loaded with ``yaml.safe_load`` and validated here; nothing in them is ever run
by a shell. Pure: reads files, returns frozen objects.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from podnet.core.errors import InputError

LABS_DIR = os.environ.get("PODNET_LABS", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "labs"))
_DIR_NAME = re.compile(r"^(\d\d)-([a-z0-9][a-z0-9-]*)$")
_EXERCISE = re.compile(r"^[a-z][a-z0-9-]{0,15}$")

ACTIONS = ("apply", "delete", "copy", "exec", "podnet", "answers", "capture", "record", "up", "wait")
CHECK_TYPES = ("pods", "nodes", "probe", "connect", "trace", "matrix", "dns", "answer", "pcap", "iptables", "sysctl",
               "lab", "replaced", "routes")
LAB_KEYS = {"number", "slug", "title", "goal", "minutes", "quiz", "topology", "start", "solution", "checks",
            "exercises", "network"}
EXERCISE_KEYS = {"title", "goal", "minutes", "topology", "start", "solution", "checks", "network"}


@dataclass(frozen=True)
class Check:
    name: str
    type: str
    params: dict = field(hash=False)


@dataclass(frozen=True)
class LabDef:
    id: str  # "01", or "08/mtu" for an exercise
    number: int
    slug: str
    title: str
    goal: str
    directory: str
    minutes: int
    quiz: str | None
    topology: dict | None = field(hash=False)  # None: the student brings the lab up (e.g. from a fixed file)
    start: tuple = ()
    solution: tuple = ()
    checks: tuple[Check, ...] = ()

    @property
    def lab_name(self) -> str:
        """The podnet lab this exercise runs as: ``lab-01``, ``lab-08-mtu``."""
        return "lab-" + self.id.replace("/", "-")

    @property
    def work_name(self) -> str:
        return f"{self.number:02d}-{self.slug}" + (f"-{self.id.split('/')[1]}" if "/" in self.id else "")


def _fail(path: str, field_name: str, value: object, allowed: str) -> InputError:
    return InputError(f"{os.path.relpath(path)}: {field_name}", value, allowed)


def lab_directories(labs_dir: str | None = None) -> list[str]:
    root = labs_dir or LABS_DIR
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        raise InputError("labs directory", root, "does not exist (set PODNET_LABS)") from None
    return [os.path.join(root, n) for n in names if _DIR_NAME.match(n) and os.path.isfile(os.path.join(root, n, "lab.yaml"))]


def load_all(labs_dir: str | None = None) -> list[LabDef]:
    labs: list[LabDef] = []
    for directory in lab_directories(labs_dir):
        labs += load_directory(directory)
    return labs


def load_directory(directory: str) -> list[LabDef]:
    path = os.path.join(directory, "lab.yaml")
    match = _DIR_NAME.match(os.path.basename(directory))
    if not match:
        raise InputError("lab directory", directory, "must be named NN-slug")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise InputError("lab", directory, "has no lab.yaml") from None
    except yaml.YAMLError:
        raise InputError("lab file", path, "is not valid YAML") from None
    if not isinstance(data, dict):
        raise _fail(path, "lab file", type(data).__name__, "must be a mapping")
    unknown = set(data) - LAB_KEYS
    if unknown:
        raise _fail(path, "key", sorted(unknown)[0], "allowed keys: " + ", ".join(sorted(LAB_KEYS)))
    number = int(match.group(1))
    if data.get("number", number) != number or data.get("slug", match.group(2)) != match.group(2):
        raise _fail(path, "number/slug", f"{data.get('number')}/{data.get('slug')}", f"must match the directory name {os.path.basename(directory)}")
    title = _text(path, "title", data.get("title"))
    goal = _text(path, "goal", data.get("goal"))
    quiz = data.get("quiz")
    if quiz is not None and not isinstance(quiz, str):
        raise _fail(path, "quiz", quiz, "must name a bank in labs/quiz")
    exercises = data.get("exercises")
    base = dict(number=number, slug=match.group(2), directory=directory, quiz=quiz)
    if exercises is None:
        return [_build(path, data, base, f"{number:02d}", title, goal)]
    if not isinstance(exercises, dict) or not exercises:
        raise _fail(path, "exercises", exercises, "must map exercise names to sub-labs")
    labs = []
    for name, sub in exercises.items():
        if not isinstance(name, str) or not _EXERCISE.match(name):
            raise _fail(path, "exercise name", name, "lowercase letters, digits and '-', at most 16")
        if not isinstance(sub, dict):
            raise _fail(path, f"exercises.{name}", sub, "must be a mapping")
        unknown = set(sub) - EXERCISE_KEYS
        if unknown:
            raise _fail(path, f"exercises.{name} key", sorted(unknown)[0], "allowed keys: " + ", ".join(sorted(EXERCISE_KEYS)))
        merged = {k: v for k, v in data.items() if k in ("topology", "minutes", "network")}
        merged.update(sub)
        labs.append(_build(path, merged, base, f"{number:02d}/{name}", _text(path, f"exercises.{name}.title", sub.get("title")),
                           _text(path, f"exercises.{name}.goal", sub.get("goal", goal))))
    return labs


def _text(path: str, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, key, value, "must be a non-empty text")
    return value.strip()


def _build(path: str, data: dict, base: dict, lab_id: str, title: str, goal: str) -> LabDef:
    topology = data.get("topology")
    if topology is not None and not isinstance(topology, dict):
        raise _fail(path, f"{lab_id} topology", topology, "must be a mapping (the keys of a topology file) or null")
    minutes = data.get("minutes", 20)
    if not isinstance(minutes, int) or not 1 <= minutes <= 240:
        raise _fail(path, f"{lab_id} minutes", minutes, "must be a number of minutes from 1 to 240")
    start = _steps(path, f"{lab_id} start", data.get("start") or [])
    solution = _steps(path, f"{lab_id} solution", data.get("solution") or [])
    checks = _checks(path, lab_id, data.get("checks"))
    return LabDef(lab_id, base["number"], base["slug"], title, goal, base["directory"], minutes, base["quiz"],
                  topology, tuple(start), tuple(solution), tuple(checks))


def _steps(path: str, where: str, raw: object) -> list[dict]:
    if not isinstance(raw, list):
        raise _fail(path, where, raw, "must be a list of steps")
    steps = []
    for index, step in enumerate(raw):
        if not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in ACTIONS:
            raise _fail(path, f"{where}[{index}]", step, "each step is one of: " + ", ".join(ACTIONS))
        steps.append(step)
    return steps


def _checks(path: str, lab_id: str, raw: object) -> list[Check]:
    if not isinstance(raw, list) or not raw:
        raise _fail(path, f"{lab_id} checks", raw, "a lab needs at least one check")
    checks = []
    names = set()
    for index, item in enumerate(raw):
        where = f"{lab_id} checks[{index}]"
        if not isinstance(item, dict):
            raise _fail(path, where, item, "must be a mapping with name and type")
        name = _text(path, f"{where}.name", item.get("name"))
        kind = item.get("type")
        if kind not in CHECK_TYPES:
            raise _fail(path, f"{where}.type", kind, "one of " + ", ".join(CHECK_TYPES))
        if name in names:
            raise _fail(path, f"{where}.name", name, "check names are unique in a lab")
        names.add(name)
        checks.append(Check(name, kind, {k: v for k, v in item.items() if k not in ("name", "type")}))
    return checks


def find(labs: list[LabDef], wanted: str) -> list[LabDef]:
    """Labs matching ``wanted``: ``1``, ``01``, ``flat-network``, ``01-flat-network``, or an
    exercise ``08/mtu`` (``08`` alone names all its exercises)."""
    text = wanted.strip().lower()
    number, _, exercise = text.partition("/")
    found = []
    for lab in labs:
        names = {f"{lab.number}", f"{lab.number:02d}", lab.slug, f"{lab.number:02d}-{lab.slug}"}
        if number in names and (not exercise or lab.id.endswith("/" + exercise)):
            found.append(lab)
    if not found:
        ids = ", ".join(lab.id for lab in labs)
        raise InputError("lab", wanted, f"no such lab; labs are {ids}")
    return found


def lab_dir_file(lab: LabDef, relative: str) -> str:
    """A file of the lab's directory; the path may not leave it."""
    if not isinstance(relative, str) or not relative or os.path.isabs(relative):
        raise InputError("lab file path", relative, "must be a path inside the lab's directory")
    full = os.path.normpath(os.path.join(lab.directory, relative))
    if not full.startswith(os.path.normpath(lab.directory) + os.sep):
        raise InputError("lab file path", relative, "must stay inside the lab's directory")
    return full


def readme_path(lab: LabDef) -> str:
    return os.path.join(lab.directory, "README.md")


def topology_args(lab: LabDef) -> dict[str, Any]:
    return dict(lab.topology or {})
