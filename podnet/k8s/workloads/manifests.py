"""Kubernetes manifests in, validated objects out: Namespace, Pod, Deployment, Service, NetworkPolicy.

Mirrors the API server's validation of the fields a networking lab uses, with Kubernetes'
own wording (``The Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 40000:
provided port is not in the valid range. The range of valid ports is 30000-32767``).
Accepted: Pod (``metadata.labels``, ``spec.nodeName``, ``containers[].ports``), Deployment
(``apps/v1``: ``replicas``, ``selector.matchLabels``, the template's labels, nodeName and
ports), Service (``type`` ClusterIP or NodePort, ``clusterIP``, ``selector``, ``ports`` with
``name``, ``protocol`` TCP/UDP, ``port``, ``targetPort`` as number or name, ``nodePort``,
``sessionAffinity`` with ``sessionAffinityConfig.clientIP.timeoutSeconds``), Namespace (its
labels, plus ``kubernetes.io/metadata.name`` as the API server adds it), NetworkPolicy
(``networking.k8s.io/v1``, see :mod:`~podnet.k8s.workloads.netpol_manifest`), and ``List``.
Deviations: images and commands are not run (every declared container port gets podnet's
echo server); fields outside that set are ignored, except kinds, Service types and
protocols podnet cannot emulate, which are refused by name. Pure: no I/O but parsing text.
"""

from __future__ import annotations

from typing import Iterable

import yaml

from podnet.core.errors import InputError
from podnet.k8s.workloads.api_fields import (
    DNS1035_LABEL, DNS1123_LABEL, DNS1123_SUBDOMAIN, PORT_NAME, PROTOCOLS, Forbidden, InvalidObject, Literal, RequiredValue,
    UnsupportedValue, check_name, int_field, labels_field, protocol_field, quote,
)
from podnet.k8s.workloads.objects import (
    NODE_PORT_RANGE, ContainerPort, DeploymentObject, NamespaceObject, NetworkPolicyObject, PodObject, ServiceObject,
    ServicePort, WorkloadObject,
)
from podnet.k8s.workloads.netpol_manifest import parse_network_policy
from podnet.k8s.workloads.service_manifest import SERVICE_TYPES, parse_service

KINDS = ("Namespace", "Pod", "Deployment", "Service", "NetworkPolicy")
# The API server labels every Namespace with its own name (since Kubernetes 1.21).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
MAX_REPLICAS = 200

__all__ = [
    "NAMESPACE_NAME_LABEL", "NODE_PORT_RANGE", "PROTOCOLS", "NamespaceObject", "NetworkPolicyObject", "SERVICE_TYPES", "ContainerPort", "DeploymentObject", "Forbidden", "InvalidObject",
    "PodObject", "RequiredValue", "ServiceObject", "ServicePort", "UnsupportedValue", "WorkloadObject",
    "check_against_spec", "parse_documents", "parse_object", "parse_text", "read_documents", "read_file",
]


def parse_text(text: str, source: str) -> list[WorkloadObject]:
    """Every object of a (multi-document) YAML text, validated in order."""
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise InputError("manifest", source, f"is not valid YAML{where}") from None
    return parse_documents(documents, source)


def read_file(path: str) -> list[WorkloadObject]:
    return parse_text(_read_text(path), path)


def read_documents(path: str) -> list[object]:
    """The YAML documents of a manifest file as data, once every object in it is valid."""
    text = _read_text(path)
    parse_text(text, path)
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise InputError("filename", path, "no such file") from None
    except IsADirectoryError:
        raise InputError("filename", path, "is a directory; give a YAML file") from None
    except UnicodeDecodeError:
        raise InputError("filename", path, "is not UTF-8 text") from None


def parse_documents(documents: Iterable[object], source: str = "manifest") -> list[WorkloadObject]:
    objects: list[WorkloadObject] = []
    for index, document in enumerate(documents):
        if isinstance(document, dict) and document.get("kind") == "List":
            items = document.get("items") or []
            if not isinstance(items, list):
                raise InputError("items", items, "a List needs a list of objects in items")
            objects += parse_documents(items, source)
            continue
        objects.append(parse_object(document, f"{source} document {index + 1}"))
    seen: set[tuple[str, str, str]] = set()
    for obj in objects:
        key = (obj.kind, obj.namespace, obj.name)
        if key in seen:
            raise InputError(f"{obj.kind} {obj.namespace}/{obj.name}", obj.name, "appears twice in the input")
        seen.add(key)
    return objects


API_VERSIONS = {"Pod": "v1", "Service": "v1", "Namespace": "v1", "Deployment": "apps/v1",
                "NetworkPolicy": "networking.k8s.io/v1"}
_LABEL_RULE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
               "start and end with an alphanumeric character")
_NAME_RULES = {
    "Service": (DNS1035_LABEL, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                "with an alphabetic character, and end with an alphanumeric character", 63),
    "Namespace": (DNS1123_LABEL, _LABEL_RULE, 63),
    "NetworkPolicy": (DNS1123_SUBDOMAIN, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                      "characters, '-' or '.', and must start and end with an alphanumeric character", 253),
}


def parse_object(document: object, where: str) -> WorkloadObject:
    if not isinstance(document, dict):
        raise InputError("object", where, "must be a mapping with apiVersion, kind and metadata")
    kind = document.get("kind")
    if kind not in KINDS:
        raise InputError("kind", kind, f"podnet applies {', '.join(KINDS)} (and List); found in {where}")
    if document.get("apiVersion") != API_VERSIONS[kind]:
        raise InputError("apiVersion", document.get("apiVersion"), f"a {kind} has apiVersion {API_VERSIONS[kind]}")
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        raise InputError("metadata", metadata, f"a {kind} needs metadata with a name")
    name = metadata.get("name")
    pattern, detail, limit = _NAME_RULES.get(kind, (DNS1123_LABEL, _LABEL_RULE, None))
    check_name(kind, name, pattern, detail, limit)
    labels = labels_field(kind, name, "metadata.labels", metadata.get("labels"))
    if kind == "Namespace":  # cluster-scoped, and its spec (finalizers) is not modelled
        return NamespaceObject(name, {**labels, NAMESPACE_NAME_LABEL: name})
    namespace = metadata.get("namespace", "default")
    if not isinstance(namespace, str) or not DNS1123_LABEL.fullmatch(namespace) or len(namespace) > 63:
        raise InvalidObject(kind, str(name), "metadata.namespace", namespace, "must be a DNS-1123 label")
    spec = document.get("spec")
    if not isinstance(spec, dict):
        raise InvalidObject(kind, name, "spec", spec, "must be a mapping")
    if kind == "Pod":
        node_name, ports, containers = _pod_spec(kind, name, "spec", spec)
        return PodObject(name, namespace, labels, node_name, ports, containers=containers)
    if kind == "Deployment":
        return _deployment(name, namespace, spec)
    if kind == "NetworkPolicy":
        return parse_network_policy(name, namespace, spec)
    return parse_service(name, namespace, spec)


def _pod_spec(kind: str, name: str, path: str, spec: dict) -> tuple[str | None, tuple[ContainerPort, ...], tuple]:
    """nodeName, every container's ports (flattened, as the lab serves them) and the containers
    as given (name, image, their ports), which the lab's API hands back."""
    node_name = spec.get("nodeName")
    if node_name is not None and (not isinstance(node_name, str) or not DNS1123_LABEL.fullmatch(node_name)):
        raise InvalidObject(kind, name, f"{path}.nodeName", node_name, "must be a node name")
    if spec.get("hostNetwork"):
        raise InvalidObject(kind, name, f"{path}.hostNetwork", True, "podnet runs every Pod in its own network "
                            "namespace; hostNetwork Pods are not emulated")
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise InputError(f"{path}.containers", containers, f"a {kind} needs at least one container")
    ports: list[ContainerPort] = []
    kept: list[dict] = []
    seen: set[tuple[int, str]] = set()
    names: set[str] = set()
    for c_index, container in enumerate(containers):
        where = f"{path}.containers[{c_index}]"
        if not isinstance(container, dict) or not isinstance(container.get("name"), str):
            raise InputError(where, container, "a container needs a name (and an image)")
        raw_ports = container.get("ports") or []
        if not isinstance(raw_ports, list):
            raise InvalidObject(kind, name, f"{where}.ports", raw_ports, "must be a list")
        for p_index, raw in enumerate(raw_ports):
            p_path = f"{where}.ports[{p_index}]"
            if not isinstance(raw, dict):
                raise InvalidObject(kind, name, p_path, raw, "must be a mapping with containerPort")
            number = int_field(kind, name, f"{p_path}.containerPort", raw.get("containerPort"), 1, 65535)
            protocol = protocol_field(kind, name, f"{p_path}.protocol", raw.get("protocol"))
            port_name = raw.get("name", "")
            if port_name:
                if not isinstance(port_name, str) or len(port_name) > 15 or not PORT_NAME.fullmatch(port_name):
                    raise InvalidObject(kind, name, f"{p_path}.name", port_name, "must be an IANA_SVC_NAME "
                                        "(at most 15 characters, lower case alphanumerics and '-')")
                if port_name in names:
                    raise InvalidObject(kind, name, f"{p_path}.name", port_name, "Duplicate value")
                names.add(port_name)
            if (number, protocol) in seen:
                raise InvalidObject(kind, name, f"{p_path}.containerPort", number, "Duplicate value")
            seen.add((number, protocol))
            ports.append(ContainerPort(number, protocol, port_name or ""))
        image = container.get("image")
        kept.append({"name": container["name"], **({"image": image} if isinstance(image, str) and image else {}),
                     "ports": [p.to_json() for p in ports[len(ports) - len(raw_ports):]]})
    return node_name, tuple(ports), tuple(kept)


def _deployment(name: str, namespace: str, spec: dict) -> DeploymentObject:
    kind = "Deployment"
    replicas = int_field(kind, name, "spec.replicas", spec.get("replicas", 1), 0, MAX_REPLICAS,
                    f"must be between 0 and {MAX_REPLICAS} in a podnet lab" if isinstance(spec.get("replicas", 1), int)
                    and spec.get("replicas", 1) >= 0 else "must be greater than or equal to 0")
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not isinstance(selector.get("matchLabels"), dict) or not selector["matchLabels"]:
        raise InvalidObject(kind, name, "spec.selector", selector, "a Deployment needs selector.matchLabels "
                            "(podnet does not read matchExpressions)")
    match = labels_field(kind, name, "spec.selector.matchLabels", selector["matchLabels"])
    template = spec.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        raise InvalidObject(kind, name, "spec.template", template, "needs metadata.labels and a Pod spec")
    t_meta = template.get("metadata") or {}
    if not isinstance(t_meta, dict):
        raise InvalidObject(kind, name, "spec.template.metadata", t_meta, "must be a mapping")
    t_labels = labels_field(kind, name, "spec.template.metadata.labels", t_meta.get("labels"))
    if any(t_labels.get(k) != v for k, v in match.items()):
        raise InvalidObject(kind, name, "spec.template.metadata.labels", Literal("map[string]string{" + ", ".join(
            f"{quote(k)}:{quote(v)}" for k, v in sorted(t_labels.items())) + "}"),
            "`selector` does not match template `labels`")
    node_name, ports, containers = _pod_spec(kind, name, "spec.template.spec", template["spec"])
    return DeploymentObject(name, namespace, replicas, match, t_labels, node_name, ports, containers=containers)


def check_against_spec(spec, objects: list[WorkloadObject]) -> None:
    """A topology's ``workloads:`` against the topology itself: a Pod may not take the name of
    a node or Pod of the topology, and ``spec.nodeName`` must name one of its nodes."""
    node_names = {n.name for n in spec.nodes}
    taken = {p.name for p in spec.pods} | node_names
    for obj in objects:
        if obj.kind == "Pod" and obj.name in taken:
            raise InputError("workloads Pod", obj.name, "is already used by a node or Pod of the topology")
        node = getattr(obj, "node_name", None)
        if node is not None and node not in node_names:
            raise InputError(f"spec.nodeName of {obj.kind} {obj.name}", node, "must name a node of the cluster")

