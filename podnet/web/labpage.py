"""The lab page: a course lab's goal, its README's steps, and its checks with their last result.

Mirrors an autograder's dashboard, not a Kubernetes component. A served lab is a course lab
when its name is one ``podnet lab start`` gives (``lab-01``, ``lab-08-mtu``); its README is
rendered from Markdown (Python-Markdown, tables and fenced code), and the checks come from its
lab file. The results are those of the last ``podnet lab check`` (from any terminal, or the
page's own button), read from the lab's activity records. The READMEs are the repository's
own files; user strings never go into this HTML.
"""

from __future__ import annotations

import os
from typing import Any

import markdown

from podnet.course import labfile


def course_lab(lab: str) -> labfile.LabDef | None:
    """The course lab that runs as ``lab``, if any."""
    for entry in labfile.load_all():
        if entry.lab_name == lab:
            return entry
    return None


def lab_json(lab: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    entry = course_lab(lab)
    if entry is None:
        return {"lab": lab, "course": False}
    readme = ""
    path = labfile.readme_path(entry)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            readme = markdown.markdown(handle.read(), extensions=["fenced_code", "tables"])
    checks = [c for c in items if c.get("kind") == "check" and c.get("data", {}).get("lab") == entry.id]
    last = checks[-1] if checks else None
    return {
        "lab": lab, "course": True, "id": entry.id, "title": entry.title, "goal": entry.goal,
        "minutes": entry.minutes, "quiz": entry.quiz, "readme": readme,
        "checks": [{"name": c.name, "type": c.type} for c in entry.checks],
        "lastCheck": {"at": last["at"], "origin": last["origin"], **last["data"]} if last else None,
    }
