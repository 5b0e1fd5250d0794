"""Read-only commands shared by the command line and the interactive CLI: get, describe, routes.

Mirrors kubectl's ``get`` and ``describe`` argument handling (``get nodes|pods [-o wide|json]``,
``describe node|pod NAME``; singular, plural and short names ``no``/``po`` accepted).
Returns text; the callers print it.
"""

from __future__ import annotations

import json

from podnet import views
from podnet.errors import InputError
from podnet.model import LabState

KINDS = {
    "nodes": "nodes", "node": "nodes", "no": "nodes",
    "pods": "pods", "pod": "pods", "po": "pods",
}
OUTPUTS = ("table", "wide", "json")


def kind_of(word: str) -> str:
    kind = KINDS.get(word)
    if kind is None:
        raise InputError("resource type", word, "use nodes or pods")
    return kind


def get(state: LabState, kind_word: str, output: str = "table", names: list[str] | None = None) -> str:
    kind = kind_of(kind_word)
    if output not in OUTPUTS:
        raise InputError("output", output, "use wide or json")
    objects = state.nodes if kind == "nodes" else state.pods
    for name in names or []:
        if name not in objects:
            raise InputError(kind[:-1], name, f"not found: {kind} are " + ", ".join(objects))
    selected = [objects[n] for n in names] if names else list(objects.values())
    if output == "json":
        to_json = views.node_json if kind == "nodes" else views.pod_json
        items = [to_json(state, obj) for obj in selected]  # type: ignore[arg-type]
        return json.dumps(items[0] if names and len(names) == 1 else views.as_list(items), indent=2)
    subset = _subset(state, kind, [o.name for o in selected])
    if kind == "nodes":
        return views.nodes_table(subset, wide=output == "wide")
    return views.pods_table(subset, wide=output == "wide")


def _subset(state: LabState, kind: str, names: list[str]) -> LabState:
    import copy
    view = copy.copy(state)
    if kind == "nodes":
        view.nodes = {n: state.nodes[n] for n in names}
    else:
        view.pods = {n: state.pods[n] for n in names}
    return view


def describe(state: LabState, kind_word: str, name: str) -> str:
    kind = kind_of(kind_word)
    objects = state.nodes if kind == "nodes" else state.pods
    if name not in objects:
        raise InputError(kind[:-1], name, f"not found: {kind} are " + ", ".join(objects))
    if kind == "nodes":
        return views.describe_node(state, state.nodes[name])
    return views.describe_pod(state, state.pods[name])


def describe_json(state: LabState, kind_word: str, name: str) -> str:
    """The object as ``get -o json`` has it, plus its events (what describe adds)."""
    kind = kind_of(kind_word)
    objects = state.nodes if kind == "nodes" else state.pods
    if name not in objects:
        raise InputError(kind[:-1], name, f"not found: {kind} are " + ", ".join(objects))
    obj = objects[name]
    data = views.node_json(state, obj) if kind == "nodes" else views.pod_json(state, obj)  # type: ignore[arg-type]
    data["events"] = [vars(e) for e in obj.events]
    return json.dumps(data, indent=2)


def parse_get_args(words: list[str]) -> tuple[str, str, list[str]]:
    """``get`` words as kubectl takes them: KIND [NAME...] [-o wide|json]."""
    output = "table"
    rest = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-o", "--output"):
            if i + 1 >= len(words):
                raise InputError("output", "", "use -o wide or -o json")
            output = words[i + 1]
            i += 2
            continue
        if word.startswith("-o") and len(word) > 2:
            output = word[2:].lstrip("=")
        elif word.startswith("--output="):
            output = word.split("=", 1)[1]
        else:
            rest.append(word)
        i += 1
    if not rest:
        raise InputError("resource type", "", "use get nodes or get pods")
    if output not in OUTPUTS:
        raise InputError("output", output, "use wide or json")
    return rest[0], output, rest[1:]
