"""Runtime state of a lab: nodes, Pods and their events, as kubectl would show them.

Mirrors the status parts of the Kubernetes API objects a student inspects: Node
(``spec.podCIDR``, ``status.addresses`` INTERNAL-IP, the Ready and NetworkUnavailable
conditions, taints) and Pod (``status.phase`` plus the ContainerCreating waiting reason,
``status.podIP``, ``spec.nodeName``), with events as ``kubectl describe`` lists them.
Also Deployment (``spec.replicas``, the selector and the Pod template's labels and ports)
and Service (``spec.clusterIP``, ``type``, ``ports`` with ``nodePort``, ``selector``,
``sessionAffinity``); Endpoints are derived from them, as the endpoints controller does.
Namespaces (``v1 Namespace``, with labels) and NetworkPolicies (``networking.k8s.io/v1``)
are stored as the API server stores them.
Deviations: one Pod has one container; a Deployment owns its Pods directly (no ReplicaSet
object, though Pod names carry a template hash as if there were one); Pod names are unique
across Kubernetes namespaces in one lab (each Pod's network namespace is named after it);
state lives in a JSON file, not in etcd.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from podnet.core.spec import ClusterSpec

PENDING = "Pending"
CONTAINER_CREATING = "ContainerCreating"
RUNNING = "Running"

NOT_READY_TAINT = "node.kubernetes.io/not-ready:NoSchedule"
NETWORK_UNAVAILABLE_TAINT = "node.kubernetes.io/network-unavailable:NoSchedule"


@dataclass
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str
    source: str
    first: float = field(default_factory=time.time)
    last: float = field(default_factory=time.time)
    count: int = 1


def add_event(events: list[Event], type_: str, reason: str, message: str, source: str) -> None:
    """Append an event, or bump the count of an earlier one with the same reason, message and
    source (as the API server aggregates repeats)."""
    now = time.time()
    for event in events:
        if event.reason == reason and event.message == message and event.source == source:
            event.count += 1
            event.last = now
            return
    events.append(Event(type_, reason, message, source, now, now))


@dataclass
class NodeState:
    name: str
    role: str
    index: int
    internal_ip: str
    pod_cidr: str | None
    ready: bool = False
    ready_reason: str = "KubeletNotReady"
    ready_message: str = ""
    network_unavailable: str | None = None  # reason, e.g. CIDRNotAvailable
    segment: int = 0  # which L2 segment of the underlay the node's eth0 is on
    cni_config: str | None = None  # path of the conflist the runtime reads
    created: float = field(default_factory=time.time)
    events: list[Event] = field(default_factory=list)

    @property
    def taints(self) -> list[str]:
        taints = []
        if not self.ready:
            taints.append(NOT_READY_TAINT)
        if self.network_unavailable:
            taints.append(NETWORK_UNAVAILABLE_TAINT)
        return taints

    @property
    def status_text(self) -> str:
        return "Ready" if self.ready else "NotReady"


@dataclass
class PodState:
    name: str
    node: str | None
    phase: str = PENDING
    ip: str | None = None
    sandbox_id: str | None = None
    host_veth: str | None = None
    message: str = ""
    restarts: int = 0
    published: list[str] = field(default_factory=list)  # Docker model: "HOSTPORT:PORT/tcp"
    namespace: str = "default"  # the Kubernetes namespace (metadata.namespace)
    labels: dict[str, str] = field(default_factory=dict)
    # containers[0].ports as {"name", "containerPort", "protocol"}: each gets an echo server
    ports: list[dict] = field(default_factory=list)
    owner: str | None = None  # "<namespace>/<deployment>" for a Deployment's Pod
    role: str = "echo"  # what the Pod's container serves: echo, or dns for the cluster DNS
    server_pid: int | None = None  # the container's process, ended by PID on delete
    server_start: str | None = None  # /proc/PID/stat start time, guards against PID reuse
    created: float = field(default_factory=time.time)
    started: float | None = None
    events: list[Event] = field(default_factory=list)
    containers: list[dict] = field(default_factory=list)  # the containers as given (name, image, ports)

    @property
    def ready_text(self) -> str:
        return "1/1" if self.phase == RUNNING else "0/1"

    @property
    def api_phase(self) -> str:
        """status.phase as the API has it: a ContainerCreating Pod is still Pending."""
        return RUNNING if self.phase == RUNNING else PENDING


@dataclass
class DeploymentState:
    """A Deployment: keeps ``replicas`` Pods from its template alive (new names, new IPs)."""

    name: str
    namespace: str
    replicas: int
    selector: dict[str, str]
    template_labels: dict[str, str]
    ports: list[dict] = field(default_factory=list)
    node_name: str | None = None  # spec.template.spec.nodeName
    template_hash: str = ""
    created: float = field(default_factory=time.time)
    events: list[Event] = field(default_factory=list)
    containers: list[dict] = field(default_factory=list)  # the template's containers as given

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class ServicePortState:
    name: str  # may be "" for a single unnamed port
    protocol: str  # TCP or UDP
    port: int
    target_port: int | str  # a number, or the name of a container port
    node_port: int | None = None


@dataclass
class ServiceState:
    """A Service of type ClusterIP or NodePort and the virtual IP kube-proxy programs."""

    name: str
    namespace: str
    type: str  # ClusterIP or NodePort
    cluster_ip: str
    selector: dict[str, str]
    ports: list[ServicePortState]
    session_affinity: str = "None"  # or ClientIP
    affinity_timeout: int = 10800  # sessionAffinityConfig.clientIP.timeoutSeconds
    created: float = field(default_factory=time.time)
    events: list[Event] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class NamespaceState:
    """A Kubernetes namespace (``v1 Namespace``) with its labels; the API server adds
    ``kubernetes.io/metadata.name`` to every one, as since Kubernetes 1.21."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    phase: str = "Active"
    created: float = field(default_factory=time.time)
    events: list[Event] = field(default_factory=list)


@dataclass
class NetworkPolicyState:
    """A NetworkPolicy as the API server stores it once valid: ``spec`` is the manifest's spec
    with the API's defaults filled in (``policyTypes``, each port's ``protocol``), in the API's
    own JSON shape (camelCase), so describe, the policy agent and the expectations read one form."""

    name: str
    namespace: str
    spec: dict[str, Any]
    created: float = field(default_factory=time.time)
    events: list[Event] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


def _loaded(cls, raw: dict[str, Any]):
    """A state object from its JSON form (``asdict``), its events rebuilt."""
    raw = dict(raw)
    raw["events"] = [Event(**e) for e in raw.get("events", [])]
    if cls is ServiceState:
        raw["ports"] = [ServicePortState(**p) for p in raw.get("ports", [])]
    return cls(**raw)


@dataclass
class LabState:
    spec: ClusterSpec
    status: str = "starting"  # starting, running, stopping
    owner_pid: int | None = None
    owner_start: str | None = None  # /proc/PID/stat start time, guards against PID reuse
    detached: bool = False
    static_arp: bool = False  # permanent neighbour entries written by the controller
    created: float = field(default_factory=time.time)
    namespaces: list[str] = field(default_factory=list)  # every *network* namespace the lab may have made
    nodes: dict[str, NodeState] = field(default_factory=dict)
    pods: dict[str, PodState] = field(default_factory=dict)
    deployments: dict[str, DeploymentState] = field(default_factory=dict)  # by "<namespace>/<name>"
    services: dict[str, ServiceState] = field(default_factory=dict)  # by "<namespace>/<name>"
    external: bool = False  # the emulated Internet host and external client were built
    kube_namespaces: dict[str, NamespaceState] = field(default_factory=dict)  # the API's Namespaces, by name
    policies: dict[str, NetworkPolicyState] = field(default_factory=dict)  # by "<namespace>/<name>"

    @property
    def name(self) -> str:
        return self.spec.name

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_json(),
            "status": self.status,
            "ownerPid": self.owner_pid,
            "ownerStart": self.owner_start,
            "detached": self.detached,
            "staticArp": self.static_arp,
            "created": self.created,
            "namespaces": list(self.namespaces),
            "nodes": [asdict(n) for n in self.nodes.values()],
            "pods": [asdict(p) for p in self.pods.values()],
            "deployments": [asdict(d) for d in self.deployments.values()],
            "services": [asdict(s) for s in self.services.values()],
            "external": self.external,
            "kubeNamespaces": [asdict(n) for n in self.kube_namespaces.values()],
            "networkPolicies": [asdict(p) for p in self.policies.values()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LabState":
        def keyed(kind, items, key):
            return {key(raw): _loaded(kind, raw) for raw in items}

        by_ns = lambda raw: f"{raw['namespace']}/{raw['name']}"  # noqa: E731
        return cls(
            spec=ClusterSpec.from_json(data["spec"]),
            status=data["status"],
            owner_pid=data.get("ownerPid"),
            owner_start=data.get("ownerStart"),
            detached=data.get("detached", False),
            static_arp=data.get("staticArp", False),
            created=data.get("created", time.time()),
            namespaces=list(data.get("namespaces", [])),
            nodes=keyed(NodeState, data["nodes"], lambda raw: raw["name"]),
            pods=keyed(PodState, data["pods"], lambda raw: raw["name"]),
            deployments=keyed(DeploymentState, data.get("deployments", []), by_ns),
            services=keyed(ServiceState, data.get("services", []), by_ns),
            external=data.get("external", False),
            kube_namespaces=keyed(NamespaceState, data.get("kubeNamespaces", []), lambda raw: raw["name"]),
            policies=keyed(NetworkPolicyState, data.get("networkPolicies", []), by_ns),
        )
