"""Label selectors: ``matchLabels`` and ``matchExpressions``, validated and matched.

Mirrors apimachinery's ``metav1.LabelSelector`` (``ValidateLabelSelector`` and
``LabelSelectorAsSelector``): every ``matchLabels`` pair must hold and every expression must
be true (``In``, ``NotIn``, ``Exists``, ``DoesNotExist``); the empty selector ``{}`` selects
everything; ``In``/``NotIn`` need values and ``Exists``/``DoesNotExist`` take none, with the
API server's own words when they do not. ``NotIn`` and ``DoesNotExist`` also select objects
that lack the key, as in Kubernetes. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from podnet.k8s.workloads.api_fields import (
    KEY_DETAIL, LABEL_DETAIL, Forbidden, InvalidObject, RequiredValue, is_label_key, is_label_value, labels_field,
)

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels

    def text(self) -> str:
        if self.operator in ("In", "NotIn"):
            return f"{self.key} {self.operator.lower()} ({','.join(self.values)})"
        return self.key if self.operator == "Exists" else f"!{self.key}"


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(r.matches(labels) for r in self.expressions)

    def text(self) -> str:
        """As kubectl prints a selector: ``app=web,tier notin (db)``; ``<none>`` when empty."""
        parts = [f"{k}={v}" for k, v in self.match_labels] + [r.text() for r in self.expressions]
        return ",".join(parts) or "<none>"

    def to_json(self) -> dict:
        data: dict = {}
        if self.match_labels:
            data["matchLabels"] = dict(self.match_labels)
        if self.expressions:
            data["matchExpressions"] = [{"key": r.key, "operator": r.operator, **({"values": list(r.values)} if r.values else {})}
                                        for r in self.expressions]
        return data


def from_json(data: dict | None) -> LabelSelector:
    """A selector from its stored (already valid) JSON form."""
    data = data or {}
    return LabelSelector(tuple(sorted((data.get("matchLabels") or {}).items())),
                         tuple(Requirement(e["key"], e["operator"], tuple(e.get("values") or ()))
                               for e in data.get("matchExpressions") or ()))


def parse(kind: str, name: str, path: str, raw: object) -> LabelSelector:
    """Validate a selector of a manifest (``raw`` as YAML gave it) as the API server does."""
    if raw is None:
        return LabelSelector()
    if not isinstance(raw, dict):
        raise InvalidObject(kind, name, path, raw, "must be a label selector (matchLabels and/or matchExpressions)")
    unknown = set(raw) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise InvalidObject(kind, name, f"{path}.{sorted(unknown)[0]}", raw[sorted(unknown)[0]],
                            "a label selector has only matchLabels and matchExpressions")
    labels = labels_field(kind, name, f"{path}.matchLabels", raw.get("matchLabels"))
    expressions = raw.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise InvalidObject(kind, name, f"{path}.matchExpressions", expressions, "must be a list")
    requirements = tuple(_requirement(kind, name, f"{path}.matchExpressions[{i}]", e) for i, e in enumerate(expressions))
    return LabelSelector(tuple(sorted(labels.items())), requirements)


def _requirement(kind: str, name: str, path: str, raw: object) -> Requirement:
    if not isinstance(raw, dict):
        raise InvalidObject(kind, name, path, raw, "must be a mapping with key and operator")
    key = raw.get("key")
    if not is_label_key(key):
        raise InvalidObject(kind, name, f"{path}.key", key, KEY_DETAIL)
    operator = raw.get("operator")
    if operator not in OPERATORS:
        raise InvalidObject(kind, name, f"{path}.operator", operator, "not a valid selector operator")
    values = raw.get("values") or []
    if not isinstance(values, list):
        raise InvalidObject(kind, name, f"{path}.values", values, "must be a list of strings")
    if operator in ("In", "NotIn") and not values:
        raise RequiredValue(kind, name, f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'")
    if operator in ("Exists", "DoesNotExist") and values:
        raise Forbidden(kind, name, f"{path}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not is_label_value(str(value)):
            raise InvalidObject(kind, name, f"{path}.values[{index}]", value, LABEL_DETAIL)
    return Requirement(key, operator, tuple(str(v) for v in values))

