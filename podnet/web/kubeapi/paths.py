"""Request paths of the Kubernetes API, read into what they name.

Mirrors kube-apiserver's REST paths: ``/api/v1/...`` for the core group and
``/apis/GROUP/v1/...`` for the others, then ``RESOURCE[/NAME[/SUBRESOURCE]]`` for
cluster-scoped resources and for every namespace at once, and
``namespaces/NS/RESOURCE[/NAME[/SUBRESOURCE]]`` inside one namespace. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from podnet.web.kubeapi.resources import BY_PATH, Resource


@dataclass(frozen=True)
class Target:
    resource: Resource
    namespace: str | None  # None: every namespace (or a cluster-scoped resource)
    name: str | None = None
    sub: str | None = None


class UnknownPath(ValueError):
    """Not a path this API has (404)."""


def parse(path: str) -> Target:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis" and parts[2] == "v1":
        group, rest = parts[1], parts[3:]
    else:
        raise UnknownPath(path)
    if not rest:
        raise UnknownPath(path)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and (group, rest[2]) in BY_PATH:
        namespace, rest = rest[1], rest[2:]
    resource = BY_PATH.get((group, rest[0]))
    if resource is None or len(rest) > 3:
        raise UnknownPath(path)
    if namespace is not None and not resource.namespaced:
        raise UnknownPath(path)
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if resource.name == "namespaces" and name is not None:
        namespace = None  # a Namespace is cluster-scoped: its name is the name
    return Target(resource, namespace, name, sub)
