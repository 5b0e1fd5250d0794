"""Label and field selectors as the API server reads them from ``?labelSelector=`` and
``?fieldSelector=``, and the Status objects it answers errors with.

Mirrors k8s.io/apimachinery's labels.Parse (``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``,
``a notin (x)``, ``a``, ``!a``, comma meaning AND) and fields.ParseSelector (``path=value``,
``path!=value`` over an object's fields, e.g. ``spec.nodeName``, ``involvedObject.uid``),
and metav1.Status with its reasons (NotFound, AlreadyExists, Invalid, BadRequest, Gone,
Unauthorized, MethodNotAllowed). Pure.
"""

from __future__ import annotations

import re
from typing import Any, Callable

_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(notin|in)\s*\(([^)]*)\)|(==|=|!=)\s*([A-Za-z0-9._-]*))?\s*$")


class SelectorError(ValueError):
    pass


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def label_matcher(text: str | None) -> Callable[[dict[str, str]], bool]:
    if not text:
        return lambda _labels: True
    tests = []
    for part in _split(text):
        if not part.strip():
            raise SelectorError(f"unable to parse requirement: found '', expected: identifier after ',' in {text!r}")
        match = _SET.match(part)
        if not match:
            raise SelectorError(f"unable to parse requirement: {part!r}")
        negate, key, set_op, values, op, value = match.groups()
        if negate and (set_op or op):
            raise SelectorError(f"unable to parse requirement: {part!r}: '!' only goes before a bare key")
        if set_op:
            members = {v.strip() for v in values.split(",") if v.strip()}
            if not members:
                raise SelectorError(f"unable to parse requirement: {part!r}: for 'in', 'notin' operators, values "
                                    "set can't be empty")
            tests.append(lambda l, k=key, m=members, inside=set_op == "in": (l.get(k) in m) == inside)
        elif op:
            tests.append(lambda l, k=key, v=value, o=op: (l.get(k) == v) if o in ("=", "==") else (l.get(k) != v))
        else:
            tests.append(lambda l, k=key, n=bool(negate): (k in l) != n)
    return lambda labels: all(test(labels) for test in tests)


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_matcher(text: str | None) -> Callable[[dict], bool]:
    if not text:
        return lambda _obj: True
    tests = []
    for part in _split(text):
        match = re.match(r"^\s*([A-Za-z0-9.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not match:
            raise SelectorError(f"invalid selector: {part!r}; can't understand {part!r}")
        path, op, value = match.groups()
        tests.append(lambda o, p=path, v=value, eq=op != "!=": (_field(o, p) == v) == eq)
    return lambda obj: all(test(obj) for test in tests)


def status(code: int, reason: str, message: str, details: dict | None = None) -> dict[str, Any]:
    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
           "reason": reason, "code": code}
    if details is not None:
        out["details"] = details
    return out


def not_found(resource: str, name: str, group: str = "") -> dict[str, Any]:
    qualified = f"{resource}.{group}" if group else resource
    return status(404, "NotFound", f'{qualified} "{name}" not found', {"name": name, "kind": resource,
                                                                      **({"group": group} if group else {})})
