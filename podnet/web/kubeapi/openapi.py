"""The OpenAPI documents kubectl reads before ``apply``: v2 (JSON, and the protobuf encoding
kubectl 1.20 asks for) and v3 (per group-version, as newer kubectl fetches it).

Mirrors kube-apiserver's ``/openapi/v2`` and ``/openapi/v3``, reduced to what kubectl needs:
a definition per served kind with its top-level fields, whose contents stay open (the server
validates them, in Kubernetes' words); the v3 documents name each kind's
``x-kubernetes-group-version-kind`` and say that PATCH and POST take ``fieldValidation``, so
newer kubectl leaves validation to the server. The protobuf is the
gnostic ``openapi.v2.Document`` message, written field by field. Deviation: the v2 definitions
carry no group-version-kind, so kubectl finds no schema for what it applies: it leaves
validation to the server, as it does for a kind the server does not describe, and computes
``apply``'s patches from its own compiled-in types (exact for these kinds). Pure.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from podnet.web.kubeapi.resources import RESOURCES

PACKAGES = {"": "io.k8s.api.core.v1", "apps": "io.k8s.api.apps.v1", "networking.k8s.io": "io.k8s.api.networking.v1",
            "discovery.k8s.io": "io.k8s.api.discovery.v1"}
TOP = ("apiVersion", "kind", "metadata", "spec", "status")
EXTRA_TOP = {"Endpoints": ("subsets",), "EndpointSlice": ("addressType", "endpoints", "ports"), "Event": ("involvedObject", "reason", "message", "type", "count", "source",
                                                  "firstTimestamp", "lastTimestamp", "reportingComponent")}


def _definition(kind: str, group: str) -> dict:
    fields = TOP + EXTRA_TOP.get(kind, ())
    properties = {f: {"type": "string"} if f in ("apiVersion", "kind") else {"type": "object"} for f in fields}
    for f in EXTRA_TOP.get(kind, ()):
        if f in ("reason", "message", "type", "firstTimestamp", "lastTimestamp", "reportingComponent"):
            properties[f] = {"type": "string"}
        elif f == "count":
            properties[f] = {"type": "integer"}
        elif f == "addressType":
            properties[f] = {"type": "string"}
        elif f in ("subsets", "endpoints", "ports"):
            properties[f] = {"type": "array", "items": {"type": "object"}}
    return {"description": f"{kind} as the lab's API serves it.", "type": "object", "properties": properties,
            "x-kubernetes-group-version-kind": [{"group": group, "kind": kind, "version": "v1"}]}


@lru_cache(maxsize=1)
def v2_json() -> dict:
    definitions = {f"{PACKAGES[r.group]}.{r.kind}": {k: v for k, v in _definition(r.kind, r.group).items()
                                                     if k != "x-kubernetes-group-version-kind"} for r in RESOURCES}
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.30.0+podnet"}, "paths": {},
            "definitions": definitions}


# -- protobuf, by hand: varints and length-delimited fields ---------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _text(number: int, text: str) -> bytes:
    return _field(number, text.encode())


def _gvk_yaml(items: list[dict]) -> str:
    return "".join(f"- group: {json.dumps(i['group'])}\n  kind: {i['kind']}\n  version: {i['version']}\n" for i in items)


def _schema(schema: dict) -> bytes:
    """openapi.v2.Schema: description 4, items 23, type 22, properties 25, vendor_extension 31."""
    out = b""
    if "description" in schema:
        out += _text(4, schema["description"])
    if "type" in schema:
        out += _field(22, _text(1, schema["type"]))  # TypeItem { repeated string value = 1 }
    if "items" in schema:
        out += _field(23, _field(1, _schema(schema["items"])))  # ItemsItem { repeated Schema schema = 1 }
    if "properties" in schema:
        named = b"".join(_field(1, _text(1, name) + _field(2, _schema(value)))
                         for name, value in schema["properties"].items())
        out += _field(25, named)  # Properties { repeated NamedSchema additional_properties = 1 }
    if "x-kubernetes-group-version-kind" in schema:
        value = _text(2, _gvk_yaml(schema["x-kubernetes-group-version-kind"]))  # Any { string yaml = 2 }
        out += _field(31, _text(1, "x-kubernetes-group-version-kind") + _field(2, value))
    return out


@lru_cache(maxsize=1)
def v2_protobuf() -> bytes:
    doc = v2_json()
    info = _text(1, doc["info"]["title"]) + _text(2, doc["info"]["version"])
    definitions = b"".join(_field(1, _text(1, name) + _field(2, _schema(schema)))
                           for name, schema in doc["definitions"].items())
    return _text(1, doc["swagger"]) + _field(2, info) + _field(8, b"") + _field(9, definitions)


# -- v3 ----------------------------------------------------------------------------------------------

def _group_paths() -> dict[str, list]:
    out: dict[str, list] = {}
    for r in RESOURCES:
        out.setdefault("api/v1" if not r.group else f"apis/{r.group}/v1", []).append(r)
    return out


def v3_document(path: str) -> dict | None:
    resources = _group_paths().get(path.strip("/"))
    if resources is None:
        return None
    validation = {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    paths, schemas = {}, {}
    for r in resources:
        name = f"{PACKAGES[r.group]}.{r.kind}"
        schemas[name] = _definition(r.kind, r.group)
        prefix = f"/{path.strip('/')}/namespaces/{{namespace}}/{r.name}" if r.namespaced else f"/{path.strip('/')}/{r.name}"
        writable = "create" in r.verbs
        gvk = {"x-kubernetes-group-version-kind": {"group": r.group, "version": "v1", "kind": r.kind}}
        paths[prefix] = {"post": {"parameters": [validation], "x-kubernetes-action": "post", **gvk}} if writable \
            else {"get": {"x-kubernetes-action": "list", **gvk}}
        paths[prefix + "/{name}"] = ({"patch": {"parameters": [validation], "x-kubernetes-action": "patch", **gvk},
                                      "put": {"parameters": [validation], "x-kubernetes-action": "put", **gvk}}
                                     if writable else {"get": {"x-kubernetes-action": "get", **gvk}})
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.30.0+podnet"}, "paths": paths,
            "components": {"schemas": schemas}}


def v3_index() -> dict:
    out = {}
    for path in _group_paths():
        digest = hashlib.sha256(json.dumps(v3_document(path), sort_keys=True).encode()).hexdigest()[:32].upper()
        out[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": out}
