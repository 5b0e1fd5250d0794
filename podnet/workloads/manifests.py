"""Kubernetes manifests in, validated workload objects out: Pod, Deployment, Service.

Mirrors the API server's validation of the fields a networking lab uses, with Kubernetes'
own wording (``The Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 40000:
provided port is not in the valid range. The range of valid ports is 30000-32767``).
Accepted: Pod (``metadata.labels``, ``spec.nodeName``, ``containers[].ports``), Deployment
(``apps/v1``: ``replicas``, ``selector.matchLabels``, the template's labels, nodeName and
ports), Service (``type`` ClusterIP or NodePort, ``clusterIP``, ``selector``, ``ports`` with
``name``, ``protocol`` TCP/UDP, ``port``, ``targetPort`` as number or name, ``nodePort``,
``sessionAffinity`` with ``sessionAffinityConfig.clientIP.timeoutSeconds``), and ``List``.
Deviations: images and commands are not run (every declared container port gets podnet's
echo server); fields outside that set are ignored, except kinds, Service types and
protocols podnet cannot emulate, which are refused by name. Pure: no I/O but parsing text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml

from podnet.errors import InputError

NODE_PORT_RANGE = (30000, 32767)
PROTOCOLS = ("TCP", "UDP")
SERVICE_TYPES = ("ClusterIP", "NodePort")
KINDS = ("Pod", "Deployment", "Service")
MAX_REPLICAS = 200
MAX_AFFINITY_TIMEOUT = 86400

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


class InvalidObject(InputError):
    """An object the API server would refuse, worded as kubectl prints it (on one line: strings
    are quoted and escaped as Go's %q would)."""

    reason = "Invalid value"

    def __init__(self, kind: str, name: str, path: str, value: object, detail: str):
        self.kind, self.name, self.path = kind, name, path
        self.field, self.value, self.allowed = path, value, detail
        Exception.__init__(self, f"The {kind} {_quote(name)} is invalid: {path}: {self.reason}: "
                                 f"{_go_value(value)}: {detail}")


class UnsupportedValue(InvalidObject):
    def __init__(self, kind: str, name: str, path: str, value: object, supported: Iterable[str], note: str = ""):
        choices = ", ".join(_quote(s) for s in supported)
        InvalidObject.__init__(self, kind, name, path, value, "")
        Exception.__init__(self, f"The {kind} {_quote(name)} is invalid: {path}: Unsupported value: "
                                 f"{_go_value(value)}: supported values: {choices}{note}")


class RequiredValue(InvalidObject):
    def __init__(self, kind: str, name: str, path: str):
        InvalidObject.__init__(self, kind, name, path, None, "Required value")
        Exception.__init__(self, f"The {kind} {_quote(name)} is invalid: {path}: Required value")


class Forbidden(InvalidObject):
    def __init__(self, kind: str, name: str, path: str, detail: str):
        InvalidObject.__init__(self, kind, name, path, None, detail)
        Exception.__init__(self, f"The {kind} {_quote(name)} is invalid: {path}: Forbidden: {detail}")


class _Literal(str):
    """A value shown as is (a Go map literal), not quoted."""


def _quote(text: object) -> str:
    return json.dumps(str(text), ensure_ascii=False).replace("\u2028", "\\u2028")


def _go_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, _Literal):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    return _quote(value)[1:-1] if not isinstance(value, (int, float)) else str(value)


@dataclass(frozen=True)
class ContainerPort:
    container_port: int
    protocol: str = "TCP"
    name: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "containerPort": self.container_port, "protocol": self.protocol}


@dataclass(frozen=True)
class PodObject:
    name: str
    namespace: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    node_name: str | None = None
    ports: tuple[ContainerPort, ...] = ()
    kind: str = "Pod"


@dataclass(frozen=True)
class DeploymentObject:
    name: str
    namespace: str
    replicas: int
    selector: dict[str, str] = field(hash=False)
    template_labels: dict[str, str] = field(hash=False)
    node_name: str | None = None
    ports: tuple[ContainerPort, ...] = ()
    kind: str = "Deployment"


@dataclass(frozen=True)
class ServicePort:
    name: str
    protocol: str
    port: int
    target_port: int | str
    node_port: int | None = None


@dataclass(frozen=True)
class ServiceObject:
    name: str
    namespace: str
    type: str
    selector: dict[str, str] = field(hash=False)
    ports: tuple[ServicePort, ...]
    cluster_ip: str | None = None  # requested spec.clusterIP, or None to allocate
    session_affinity: str = "None"
    affinity_timeout: int = 10800
    kind: str = "Service"


WorkloadObject = PodObject | DeploymentObject | ServiceObject


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
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise InputError("filename", path, "no such file") from None
    except IsADirectoryError:
        raise InputError("filename", path, "is a directory; give a YAML file") from None
    except UnicodeDecodeError:
        raise InputError("filename", path, "is not UTF-8 text") from None
    return parse_text(text, path)


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


def parse_object(document: object, where: str) -> WorkloadObject:
    if not isinstance(document, dict):
        raise InputError("object", where, "must be a mapping with apiVersion, kind and metadata")
    kind = document.get("kind")
    if kind not in KINDS:
        raise InputError("kind", kind, f"podnet applies {', '.join(KINDS)} (and List); found in {where}")
    expected_api = "apps/v1" if kind == "Deployment" else "v1"
    if document.get("apiVersion") != expected_api:
        raise InputError("apiVersion", document.get("apiVersion"), f"a {kind} has apiVersion {expected_api}")
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        raise InputError("metadata", metadata, f"a {kind} needs metadata with a name")
    name = metadata.get("name")
    if kind == "Service":
        _check_name(kind, name, _DNS1035_LABEL, "a DNS-1035 label must consist of lower case alphanumeric "
                    "characters or '-', start with an alphabetic character, and end with an alphanumeric character")
    else:
        _check_name(kind, name, _DNS1123_LABEL, "a lowercase RFC 1123 label must consist of lower case "
                    "alphanumeric characters or '-', and must start and end with an alphanumeric character")
    namespace = metadata.get("namespace", "default")
    if not isinstance(namespace, str) or not _DNS1123_LABEL.fullmatch(namespace) or len(namespace) > 63:
        raise InvalidObject(kind, str(name), "metadata.namespace", namespace, "must be a DNS-1123 label")
    labels = _labels(kind, name, "metadata.labels", metadata.get("labels"))
    spec = document.get("spec")
    if not isinstance(spec, dict):
        raise InvalidObject(kind, name, "spec", spec, "must be a mapping")
    if kind == "Pod":
        node_name, ports = _pod_spec(kind, name, "spec", spec)
        return PodObject(name, namespace, labels, node_name, ports)
    if kind == "Deployment":
        return _deployment(name, namespace, spec)
    return _service(name, namespace, spec)


def _check_name(kind: str, name: object, pattern: re.Pattern, detail: str) -> None:
    if not isinstance(name, str) or not name:
        raise InputError("metadata.name", name, f"a {kind} needs a name")
    limit = 63 if kind == "Service" else 53  # Pod names get a Deployment suffix: keep room
    if len(name) > limit:
        raise InvalidObject(kind, name, "metadata.name", name, f"must be no more than {limit} characters")
    if not pattern.fullmatch(name):
        raise InvalidObject(kind, name, "metadata.name", name, detail)


def _labels(kind: str, name: str, path: str, raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidObject(kind, name, path, raw, "must be a map of string keys to string values")
    labels = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _LABEL_KEY_NAME.fullmatch(key.rsplit("/", 1)[-1]) or len(key) > 316:
            raise InvalidObject(kind, name, path, key, "name part must consist of alphanumeric characters, '-', "
                                "'_' or '.', and must start and end with an alphanumeric character")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidObject(kind, name, f"{path}.{key}", value, "a label value must be a string")
        text = str(value)
        if len(text) > 63 or not _LABEL_VALUE.fullmatch(text):
            raise InvalidObject(kind, name, f"{path}.{key}", text, "a valid label must be an empty string or "
                                "consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                                "with an alphanumeric character")
        labels[key] = text
    return labels


def _int(kind: str, name: str, path: str, value: object, low: int, high: int, detail: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidObject(kind, name, path, value, "must be an integer")
    if not low <= value <= high:
        raise InvalidObject(kind, name, path, value, detail or f"must be between {low} and {high}, inclusive")
    return value


def _protocol(kind: str, name: str, path: str, value: object) -> str:
    protocol = "TCP" if value is None else value
    if protocol == "SCTP":
        raise UnsupportedValue(kind, name, path, protocol, PROTOCOLS, " (SCTP is valid in Kubernetes; podnet emulates TCP and UDP)")
    if protocol not in PROTOCOLS:
        raise UnsupportedValue(kind, name, path, protocol, PROTOCOLS + ("SCTP",))
    return protocol  # type: ignore[return-value]


def _pod_spec(kind: str, name: str, path: str, spec: dict) -> tuple[str | None, tuple[ContainerPort, ...]]:
    node_name = spec.get("nodeName")
    if node_name is not None and (not isinstance(node_name, str) or not _DNS1123_LABEL.fullmatch(node_name)):
        raise InvalidObject(kind, name, f"{path}.nodeName", node_name, "must be a node name")
    if spec.get("hostNetwork"):
        raise InvalidObject(kind, name, f"{path}.hostNetwork", True, "podnet runs every Pod in its own network "
                            "namespace; hostNetwork Pods are not emulated")
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise InputError(f"{path}.containers", containers, f"a {kind} needs at least one container")
    ports: list[ContainerPort] = []
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
            number = _int(kind, name, f"{p_path}.containerPort", raw.get("containerPort"), 1, 65535)
            protocol = _protocol(kind, name, f"{p_path}.protocol", raw.get("protocol"))
            port_name = raw.get("name", "")
            if port_name:
                if not isinstance(port_name, str) or len(port_name) > 15 or not _PORT_NAME.fullmatch(port_name):
                    raise InvalidObject(kind, name, f"{p_path}.name", port_name, "must be an IANA_SVC_NAME "
                                        "(at most 15 characters, lower case alphanumerics and '-')")
                if port_name in names:
                    raise InvalidObject(kind, name, f"{p_path}.name", port_name, "Duplicate value")
                names.add(port_name)
            if (number, protocol) in seen:
                raise InvalidObject(kind, name, f"{p_path}.containerPort", number, "Duplicate value")
            seen.add((number, protocol))
            ports.append(ContainerPort(number, protocol, port_name or ""))
    return node_name, tuple(ports)


def _deployment(name: str, namespace: str, spec: dict) -> DeploymentObject:
    kind = "Deployment"
    replicas = _int(kind, name, "spec.replicas", spec.get("replicas", 1), 0, MAX_REPLICAS,
                    f"must be between 0 and {MAX_REPLICAS} in a podnet lab" if isinstance(spec.get("replicas", 1), int)
                    and spec.get("replicas", 1) >= 0 else "must be greater than or equal to 0")
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not isinstance(selector.get("matchLabels"), dict) or not selector["matchLabels"]:
        raise InvalidObject(kind, name, "spec.selector", selector, "a Deployment needs selector.matchLabels "
                            "(podnet does not read matchExpressions)")
    match = _labels(kind, name, "spec.selector.matchLabels", selector["matchLabels"])
    template = spec.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
        raise InvalidObject(kind, name, "spec.template", template, "needs metadata.labels and a Pod spec")
    t_meta = template.get("metadata") or {}
    if not isinstance(t_meta, dict):
        raise InvalidObject(kind, name, "spec.template.metadata", t_meta, "must be a mapping")
    t_labels = _labels(kind, name, "spec.template.metadata.labels", t_meta.get("labels"))
    if any(t_labels.get(k) != v for k, v in match.items()):
        raise InvalidObject(kind, name, "spec.template.metadata.labels", _Literal("map[string]string{" + ", ".join(
            f"{_quote(k)}:{_quote(v)}" for k, v in sorted(t_labels.items())) + "}"),
            "`selector` does not match template `labels`")
    node_name, ports = _pod_spec(kind, name, "spec.template.spec", template["spec"])
    return DeploymentObject(name, namespace, replicas, match, t_labels, node_name, ports)


def _service(name: str, namespace: str, spec: dict) -> ServiceObject:
    kind = "Service"
    svc_type = spec.get("type", "ClusterIP")
    if svc_type not in SERVICE_TYPES:
        note = (" (LoadBalancer and ExternalName are valid in Kubernetes; podnet emulates ClusterIP and NodePort)"
                if svc_type in ("LoadBalancer", "ExternalName") else "")
        raise UnsupportedValue(kind, name, "spec.type", svc_type, SERVICE_TYPES, note)
    cluster_ip = spec.get("clusterIP")
    if cluster_ip is not None and (not isinstance(cluster_ip, str) or cluster_ip == ""):
        raise InvalidObject(kind, name, "spec.clusterIP", cluster_ip, "must be a valid IP address")
    if cluster_ip == "None":
        raise InvalidObject(kind, name, "spec.clusterIP", cluster_ip, "headless Services are not emulated by podnet")
    selector = _labels(kind, name, "spec.selector", spec.get("selector"))
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in ("None", "ClientIP"):
        raise UnsupportedValue(kind, name, "spec.sessionAffinity", affinity, ("ClientIP", "None"))
    timeout = 10800
    config = spec.get("sessionAffinityConfig")
    if config is not None:
        if affinity != "ClientIP":
            raise InvalidObject(kind, name, "spec.sessionAffinityConfig", "{...}",
                                "must not be set when `sessionAffinity` is None")
        client_ip = config.get("clientIP") if isinstance(config, dict) else None
        raw_timeout = client_ip.get("timeoutSeconds", 10800) if isinstance(client_ip, dict) else config
        timeout = _int(kind, name, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", raw_timeout, 1,
                       MAX_AFFINITY_TIMEOUT, f"must be greater than 0 and less than {MAX_AFFINITY_TIMEOUT}")
    raw_ports = spec.get("ports")
    if not isinstance(raw_ports, list) or not raw_ports:
        raise RequiredValue(kind, name, "spec.ports")
    ports: list[ServicePort] = []
    for index, raw in enumerate(raw_ports):
        path = f"spec.ports[{index}]"
        if not isinstance(raw, dict):
            raise InvalidObject(kind, name, path, raw, "must be a mapping with port")
        port_name = raw.get("name", "")
        if len(raw_ports) > 1 and not port_name:
            raise RequiredValue(kind, name, f"{path}.name")
        if port_name and (not isinstance(port_name, str) or len(port_name) > 15 or not _PORT_NAME.fullmatch(port_name)):
            raise InvalidObject(kind, name, f"{path}.name", port_name, "must be a DNS-1123 label of at most 15 characters")
        if port_name and any(p.name == port_name for p in ports):
            raise InvalidObject(kind, name, f"{path}.name", port_name, "Duplicate value")
        port = _int(kind, name, f"{path}.port", raw.get("port"), 1, 65535)
        protocol = _protocol(kind, name, f"{path}.protocol", raw.get("protocol"))
        if any(p.port == port and p.protocol == protocol for p in ports):
            raise InvalidObject(kind, name, f"{path}.port", port, "Duplicate value")
        target = raw.get("targetPort", port)
        if isinstance(target, str) and not isinstance(target, bool):
            if target.isdigit():
                target = int(target)
            elif not _PORT_NAME.fullmatch(target) or len(target) > 15:
                raise InvalidObject(kind, name, f"{path}.targetPort", target, "must be a port number or an IANA_SVC_NAME")
        if isinstance(target, int):
            target = _int(kind, name, f"{path}.targetPort", target, 1, 65535)
        elif not isinstance(target, str):
            raise InvalidObject(kind, name, f"{path}.targetPort", target, "must be a port number or a port name")
        node_port = raw.get("nodePort")
        if node_port is not None:
            if svc_type != "NodePort":
                raise Forbidden(kind, name, f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'")
            low, high = NODE_PORT_RANGE
            node_port = _int(kind, name, f"{path}.nodePort", node_port, low, high,
                             f"provided port is not in the valid range. The range of valid ports is {low}-{high}")
            if any(p.node_port == node_port and p.protocol == protocol for p in ports):
                raise InvalidObject(kind, name, f"{path}.nodePort", node_port, "Duplicate value")
        ports.append(ServicePort(port_name or "", protocol, port, target, node_port))
    return ServiceObject(name, namespace, svc_type, selector, tuple(ports), cluster_ip, affinity, timeout)
