"""The three patch types kubectl sends, applied to an object as the API server applies them.

Mirrors k8s.io/apimachinery: a JSON merge patch (RFC 7386: maps merge, ``null`` deletes,
lists are replaced), a JSON patch (RFC 6902: add, remove, replace, test, move, copy), and the
strategic merge patch ``kubectl apply`` and ``kubectl label`` use: a merge patch whose lists
of maps merge element by element on their merge key (containers and env by ``name``, a
container's ports by ``containerPort``, a Service's ports by ``port``), with ``$patch:
delete|replace`` directives and ``$setElementOrder`` hints (ordering only, ignored here).
Pure.
"""

from __future__ import annotations

import copy
from typing import Any

MERGE_KEYS = ("containerPort", "port", "name", "mountPath", "ip")


class PatchError(ValueError):
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _merge_key(items: list) -> str | None:
    for key in MERGE_KEYS:
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def strategic_merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$retainKeys", "$patch"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            out[field] = [v for v in out.get(field, []) if v not in value]
            continue
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            out.pop(key, None)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = _merge_list(out[key], value)
        else:
            out[key] = strategic_merge(out.get(key), value)
    return out


def _merge_list(current: list, patch: list) -> list:
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):  # the list as given, whole
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")]
    key = _merge_key([i for i in patch if not (isinstance(i, dict) and i.get("$patch"))] or current)
    if key is None or not all(isinstance(i, dict) for i in current):
        return copy.deepcopy(patch)
    out = [copy.deepcopy(i) for i in current]
    for item in patch:
        found = next((i for i, c in enumerate(out) if c.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if found is not None:
                del out[found]
        elif found is None:
            out.append({k: copy.deepcopy(v) for k, v in item.items() if k != "$patch"})
        else:
            out[found] = strategic_merge(out[found], item)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError("a JSON patch is a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind in ("move", "copy"):
                source, name = _parent(doc, _pointer(op["from"]))
                index = int(name) if isinstance(source, list) else name
                value = copy.deepcopy(source[index])
                if kind == "move":
                    del source[index]
                op = {"op": "add", "path": op["path"], "value": value}
                kind = "add"
            parent, last = _parent(doc, parts)
            if kind in ("add", "replace"):
                if isinstance(parent, list):
                    index = len(parent) if last == "-" else int(last)
                    value = copy.deepcopy(op["value"])
                    parent.insert(index, value) if kind == "add" else parent.__setitem__(index, value)
                else:
                    if kind == "replace" and last not in parent:
                        raise PatchError(f"replace operation does not apply: doc is missing path: {op['path']}")
                    parent[last] = copy.deepcopy(op["value"])
            elif kind == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            elif kind == "test":
                value = parent[int(last)] if isinstance(parent, list) else parent.get(last)
                if value != op["value"]:
                    raise PatchError(f"testing value {op['path']} failed")
            else:
                raise PatchError(f"unsupported JSON patch operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            if isinstance(exc, PatchError):
                raise
            raise PatchError(f"the JSON patch does not apply: {op!r}") from None
    return doc


def apply_patch(content_type: str, target: dict, patch: Any) -> dict:
    if content_type == "application/merge-patch+json":
        return merge_patch(target, patch)
    if content_type == "application/strategic-merge-patch+json":
        return strategic_merge(target, patch)
    if content_type == "application/json-patch+json":
        return json_patch(target, patch)
    raise PatchError(f"the patch type {content_type!r} is not supported")
