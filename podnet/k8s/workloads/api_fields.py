"""The API server's field validation, worded as kubectl prints its errors.

Mirrors apimachinery's ``field.ErrorList`` and the messages kube-apiserver returns
(``The Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port
is not in the valid range...``), on one line, with strings quoted and escaped as Go's ``%q``
would, plus the checks every kind shares: names (DNS-1123 / DNS-1035 labels), labels,
integers in a range, protocols. Pure.
"""

from __future__ import annotations

import json
import re
from typing import Iterable

from podnet.core.errors import InputError

PROTOCOLS = ("TCP", "UDP")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_DETAIL = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character")
KEY_DETAIL = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character")


class InvalidObject(InputError):
    """An object the API server would refuse, worded as kubectl prints it (on one line: strings
    are quoted and escaped as Go's %q would)."""

    reason = "Invalid value"

    def __init__(self, kind: str, name: str, path: str, value: object, detail: str):
        self.kind, self.name, self.path = kind, name, path
        self.field, self.value, self.allowed = path, value, detail
        Exception.__init__(self, f"The {kind} {quote(name)} is invalid: {path}: {self.reason}: "
                                 f"{go_value(value)}: {detail}")


class UnsupportedValue(InvalidObject):
    def __init__(self, kind: str, name: str, path: str, value: object, supported: Iterable[str], note: str = ""):
        choices = ", ".join(quote(s) for s in supported)
        InvalidObject.__init__(self, kind, name, path, value, "")
        Exception.__init__(self, f"The {kind} {quote(name)} is invalid: {path}: Unsupported value: "
                                 f"{go_value(value)}: supported values: {choices}{note}")


class RequiredValue(InvalidObject):
    def __init__(self, kind: str, name: str, path: str, detail: str = ""):
        InvalidObject.__init__(self, kind, name, path, None, detail or "Required value")
        Exception.__init__(self, f"The {kind} {quote(name)} is invalid: {path}: Required value"
                                 + (f": {detail}" if detail else ""))


class Forbidden(InvalidObject):
    def __init__(self, kind: str, name: str, path: str, detail: str):
        InvalidObject.__init__(self, kind, name, path, None, detail)
        Exception.__init__(self, f"The {kind} {quote(name)} is invalid: {path}: Forbidden: {detail}")


class UnknownField(InvalidObject):
    """A field the API does not have: refused, as ``kubectl apply`` (strict field validation)
    refuses it, rather than silently dropped."""

    def __init__(self, kind: str, name: str, path: str, allowed: Iterable[str]):
        InvalidObject.__init__(self, kind, name, path, None, "known fields: " + ", ".join(allowed))
        Exception.__init__(self, f"The {kind} {quote(name)} is invalid: strict decoding error: unknown field "
                                 f"{quote(path)} (known here: {', '.join(allowed)})")


def known_fields(kind: str, name: str, path: str, raw: dict, allowed: tuple[str, ...]) -> None:
    """Refuse the first key of ``raw`` the API does not have at ``path``."""
    for key in raw:
        if key not in allowed:
            raise UnknownField(kind, name, f"{path}.{key}" if path else str(key), allowed)


class Literal(str):
    """A value shown as is (a Go map literal), not quoted."""


def quote(text: object) -> str:
    return json.dumps(str(text), ensure_ascii=False).replace("\u2028", "\\u2028")


def go_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Literal):
        return str(value)
    if isinstance(value, str):
        return quote(value)
    return quote(value)[1:-1] if not isinstance(value, (int, float)) else str(value)


def check_name(kind: str, name: object, pattern: re.Pattern, detail: str, limit: int | None = None) -> None:
    if not isinstance(name, str) or not name:
        raise InputError("metadata.name", name, f"a {kind} needs a name")
    if limit is None:
        limit = 63 if kind == "Service" else 53  # Pod names get a Deployment suffix: keep room
    if len(name) > limit:
        raise InvalidObject(kind, name, "metadata.name", name, f"must be no more than {limit} characters")
    if not pattern.fullmatch(name):
        raise InvalidObject(kind, name, "metadata.name", name, detail)


def labels_field(kind: str, name: str, path: str, raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidObject(kind, name, path, raw, "must be a map of string keys to string values")
    labels = {}
    for key, value in raw.items():
        if not is_label_key(key):
            raise InvalidObject(kind, name, path, key, KEY_DETAIL)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidObject(kind, name, f"{path}.{key}", value, "a label value must be a string")
        text = str(value)
        if not is_label_value(text):
            raise InvalidObject(kind, name, f"{path}.{key}", text, LABEL_DETAIL)
        labels[key] = text
    return labels


def is_label_key(key: object) -> bool:
    """A qualified name: an optional DNS-subdomain prefix and '/', then a name part of at most 63."""
    if not isinstance(key, str) or not key or len(key) > 316:
        return False
    prefix, _, part = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(part) <= 63 and bool(LABEL_KEY_NAME.fullmatch(part))


def is_label_value(text: str) -> bool:
    return len(text) <= 63 and bool(LABEL_VALUE.fullmatch(text))


def int_field(kind: str, name: str, path: str, value: object, low: int, high: int, detail: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidObject(kind, name, path, value, "must be an integer")
    if not low <= value <= high:
        raise InvalidObject(kind, name, path, value, detail or f"must be between {low} and {high}, inclusive")
    return value


def protocol_field(kind: str, name: str, path: str, value: object) -> str:
    protocol = "TCP" if value is None else value
    if protocol == "SCTP":
        raise UnsupportedValue(kind, name, path, protocol, PROTOCOLS, " (SCTP is valid in Kubernetes; podnet emulates TCP and UDP)")
    if protocol not in PROTOCOLS:
        raise UnsupportedValue(kind, name, path, protocol, PROTOCOLS + ("SCTP",))
    return protocol  # type: ignore[return-value]
