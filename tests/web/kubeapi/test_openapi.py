"""The OpenAPI documents of the lab's API (podnet.web.kubeapi.openapi): v2 as JSON with a
definition per served kind and, as the module documents, no ``x-kubernetes-group-version-kind``
(so kubectl leaves validation to the server); the same document as a gnostic
``openapi.v2.Document`` protobuf, decoded here field by field with a reader of our own; and v3,
one document per group-version (its schemas with group-version-kind, its PATCH/PUT/POST taking
``fieldValidation``) behind an index that names each one with a hash of its content."""

from __future__ import annotations

import json
import re

import pytest

from podnet.web.kubeapi.openapi import v2_json, v2_protobuf, v3_document, v3_index
from podnet.web.kubeapi.resources import RESOURCES

PACKAGES = {"": "io.k8s.api.core.v1", "apps": "io.k8s.api.apps.v1", "networking.k8s.io": "io.k8s.api.networking.v1",
            "discovery.k8s.io": "io.k8s.api.discovery.v1"}
SERVED = {f"{PACKAGES[r.group]}.{r.kind}" for r in RESOURCES}


# -- a tiny protobuf reader: varints and length-delimited fields -----------------------------------

def varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def fields(data: bytes) -> list[tuple[int, bytes]]:
    """Every (field number, payload) of a message whose fields are all length-delimited."""
    out, at = [], 0
    while at < len(data):
        key, at = varint(data, at)
        assert key & 7 == 2, f"wire type {key & 7} of field {key >> 3}"
        size, at = varint(data, at)
        assert at + size <= len(data), "a field runs past its message"
        out.append((key >> 3, data[at:at + size]))
        at += size
    return out


def only(data: bytes, number: int) -> bytes:
    found = [payload for n, payload in fields(data) if n == number]
    assert len(found) == 1, (number, len(found))
    return found[0]


def named(data: bytes) -> dict[str, bytes]:
    """A repeated NamedSchema/NamedAny (name 1, value 2) as a dict."""
    out = {}
    for number, entry in fields(data):
        assert number == 1
        out[only(entry, 1).decode()] = only(entry, 2)
    return out


def schema_type(schema: bytes) -> str:
    return only(only(schema, 22), 1).decode()  # Schema.type (22): TypeItem { repeated string value = 1 }


# -- v2 JSON ---------------------------------------------------------------------------------------

def test_v2_has_a_definition_per_served_kind_without_group_version_kind():
    doc = v2_json()
    assert (doc["swagger"], doc["info"]["title"], doc["paths"]) == ("2.0", "Kubernetes", {})
    assert set(doc["definitions"]) == SERVED and len(SERVED) == len(RESOURCES)
    for name, definition in doc["definitions"].items():
        assert "x-kubernetes-group-version-kind" not in definition, name  # the documented deviation
        assert definition["type"] == "object"
        assert definition["properties"]["kind"] == {"type": "string"}
        assert definition["properties"]["spec"] == {"type": "object"}
    assert set(doc["definitions"]["io.k8s.api.core.v1.Event"]["properties"]) >= {"involvedObject", "reason", "count"}
    assert doc["definitions"]["io.k8s.api.core.v1.Event"]["properties"]["count"] == {"type": "integer"}
    assert doc["definitions"]["io.k8s.api.core.v1.Endpoints"]["properties"]["subsets"] == \
        {"type": "array", "items": {"type": "object"}}
    json.dumps(doc)


# -- v2 protobuf -----------------------------------------------------------------------------------

def test_v2_protobuf_is_the_document_field_by_field():
    doc = fields(v2_protobuf())
    assert [number for number, _ in doc] == [1, 2, 8, 9]  # swagger, info, paths, definitions
    assert doc[0][1] == b"2.0"
    assert only(doc[1][1], 1) == b"Kubernetes" and only(doc[1][1], 2) == v2_json()["info"]["version"].encode()
    assert doc[2][1] == b""  # no paths
    definitions = named(doc[3][1])
    assert set(definitions) == set(v2_json()["definitions"]) == SERVED


def test_v2_protobuf_schemas_match_the_json():
    definitions = named(only(v2_protobuf(), 9))
    for name, schema in definitions.items():
        expected = v2_json()["definitions"][name]
        assert only(schema, 4).decode() == expected["description"]
        assert schema_type(schema) == "object"
        assert 31 not in [n for n, _ in fields(schema)], name  # no vendor extension: no group-version-kind
        properties = named(only(schema, 25))  # Properties { repeated NamedSchema additional_properties = 1 }
        assert list(properties) == list(expected["properties"])
        for field, value in properties.items():
            assert schema_type(value) == expected["properties"][field]["type"], (name, field)
    subsets = named(only(definitions["io.k8s.api.core.v1.Endpoints"], 25))["subsets"]
    assert schema_type(only(only(subsets, 23), 1)) == "object"  # ItemsItem { repeated Schema schema = 1 }


# -- v3 ---------------------------------------------------------------------------------------------

def test_v3_index_lists_each_group_version_with_a_content_hash():
    paths = v3_index()["paths"]
    assert set(paths) == {"api/v1", "apis/apps/v1", "apis/networking.k8s.io/v1", "apis/discovery.k8s.io/v1"}
    hashes = set()
    for path, entry in paths.items():
        match = re.fullmatch(rf"/openapi/v3/{re.escape(path)}\?hash=([0-9A-F]{{32}})", entry["serverRelativeURL"])
        assert match, entry
        hashes.add(match.group(1))
    assert len(hashes) == 4  # a document per group-version, each its own
    assert v3_index() == v3_index()


@pytest.mark.parametrize("path, kinds", [
    ("api/v1", {"Namespace", "Node", "Pod", "Service", "Endpoints", "Event"}),
    ("/apis/apps/v1", {"Deployment", "ReplicaSet"}),
    ("apis/networking.k8s.io/v1/", {"NetworkPolicy"}),
    ("apis/discovery.k8s.io/v1/", {"EndpointSlice"}),
])
def test_v3_documents_per_group_version(path, kinds):
    doc = v3_document(path)
    assert doc["openapi"].startswith("3.")
    schemas = doc["components"]["schemas"]
    assert {s["x-kubernetes-group-version-kind"][0]["kind"] for s in schemas.values()} == kinds
    group = "" if path.strip("/") == "api/v1" else path.strip("/").split("/")[1]
    for schema in schemas.values():
        assert schema["x-kubernetes-group-version-kind"] == [{"group": group, "kind": schema["x-kubernetes-group-version-kind"][0]["kind"],
                                                               "version": "v1"}]
    for operations in doc["paths"].values():
        for verb, operation in operations.items():
            assert operation["x-kubernetes-group-version-kind"]["group"] == group
            if verb in ("post", "patch", "put"):
                assert {"name": "fieldValidation", "in": "query"}.items() <= operation["parameters"][0].items()


def test_v3_paths_for_writable_and_read_only_resources():
    core = v3_document("api/v1")["paths"]
    assert set(core["/api/v1/namespaces/{namespace}/pods/{name}"]) == {"patch", "put"}
    assert set(core["/api/v1/namespaces/{namespace}/pods"]) == {"post"}
    assert core["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]["x-kubernetes-action"] == "patch"
    assert set(core["/api/v1/namespaces"]) == {"post"}  # cluster-scoped: no {namespace}
    assert core["/api/v1/nodes/{name}"] == {"get": {"x-kubernetes-action": "get", "x-kubernetes-group-version-kind":
                                                   {"group": "", "version": "v1", "kind": "Node"}}}
    apps = v3_document("apis/apps/v1")["paths"]
    assert set(apps["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]) == {"patch", "put"}
    assert set(apps["/apis/apps/v1/namespaces/{namespace}/replicasets/{name}"]) == {"get"}


@pytest.mark.parametrize("path", ["apis/batch/v1", "apis/apps/v2", "api/v2", "", "apis"])
def test_v3_document_of_an_unknown_group_version_is_none(path):
    assert v3_document(path) is None
