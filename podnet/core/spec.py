"""The cluster spec: what a lab should look like, from CLI flags or a topology file.

Mirrors the inputs of a real cluster build: kube-controller-manager's ``--cluster-cidr``,
``--node-cidr-mask-size`` and ``--service-cluster-ip-range``, kubelet's ``maxPods``, the
node list, the CNI choice, and Pods with ``spec.nodeName``; topology files and kind configs
are read into the same arguments by :mod:`podnet.core.topology`. Everything is validated here,
before any kernel object exists (a topology's workloads are checked against the API's rules
at bring-up, by :func:`podnet.k8s.workloads.manifests.check_against_spec`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any, Mapping

from podnet.core import addressing
from podnet.core.errors import InputError
from podnet.core.naming import RESERVED_NAMES, check_dns1123_label, check_lab_name

DEFAULT_LAB = "podnet"
DEFAULT_CLUSTER_CIDR = "10.244.0.0/16"
DEFAULT_NODE_MASK = 24
DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_UNDERLAY_CIDR = "192.168.77.0/24"
DEFAULT_MAX_PODS = 110
# Node underlay addresses start here; the addresses below it are kept for routers and
# emulated external hosts.
FIRST_NODE_HOST = 11

CNI_CHOICES = ("bridge", "ptp", "builtin", "vpc", "none", "missing")
ROUTING_CHOICES = ("host-gw", "vxlan")
STATIC_ARP_CHOICES = ("auto", "on", "off")
MODEL_CHOICES = ("kubernetes", "docker")
UNDERLAY_CHOICES = ("l2", "routed")
ROLES = ("control-plane", "worker")
MAX_NODES = 250
MAX_PODS_TOTAL = 20000


@dataclass(frozen=True)
class NodeSpec:
    name: str
    role: str = "worker"


@dataclass(frozen=True)
class PodSpec:
    name: str
    node: str | None = None  # spec.nodeName; None lets the scheduler choose


@dataclass(frozen=True)
class ClusterSpec:
    name: str = DEFAULT_LAB
    cluster_cidr: IPv4Network = IPv4Network(DEFAULT_CLUSTER_CIDR)
    node_cidr_mask_size: int = DEFAULT_NODE_MASK
    service_cidr: IPv4Network = IPv4Network(DEFAULT_SERVICE_CIDR)
    underlay_cidr: IPv4Network = IPv4Network(DEFAULT_UNDERLAY_CIDR)
    cni: str = "bridge"
    routing: str = "host-gw"
    max_pods: int = DEFAULT_MAX_PODS
    static_arp: str = "auto"
    model: str = "kubernetes"  # or "docker": the single-host Docker bridge on every machine
    underlay: str = "l2"  # or "routed": two L2 segments joined by a router
    nodes: tuple[NodeSpec, ...] = ()
    pods: tuple[PodSpec, ...] = ()
    cluster_dns: bool = True  # CoreDNS behind kube-dns at the Service CIDR's 10th address
    ip_masq_agent: bool = True  # masquerade Pod egress except to the non-masquerade CIDRs
    workloads: tuple = ()  # Kubernetes manifests (as parsed YAML) applied once the lab is up

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "clusterCIDR": str(self.cluster_cidr),
            "nodeCIDRMaskSize": self.node_cidr_mask_size,
            "serviceCIDR": str(self.service_cidr),
            "underlayCIDR": str(self.underlay_cidr),
            "cni": self.cni,
            "routing": self.routing,
            "maxPods": self.max_pods,
            "staticArp": self.static_arp,
            "model": self.model,
            "underlay": self.underlay,
            "nodes": [{"name": n.name, "role": n.role} for n in self.nodes],
            "pods": [{"name": p.name, "nodeName": p.node} for p in self.pods],
            "clusterDNS": self.cluster_dns,
            "ipMasqAgent": self.ip_masq_agent,
            "workloads": list(self.workloads),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ClusterSpec":
        return build_spec(
            name=data["name"],
            cluster_cidr=data["clusterCIDR"],
            node_cidr_mask_size=data["nodeCIDRMaskSize"],
            service_cidr=data["serviceCIDR"],
            underlay_cidr=data["underlayCIDR"],
            cni=data["cni"],
            routing=data["routing"],
            max_pods=data["maxPods"],
            static_arp=data.get("staticArp", "auto"),
            model=data.get("model", "kubernetes"),
            underlay=data.get("underlay", "l2"),
            nodes=[(n["name"], n["role"]) for n in data["nodes"]],
            pods=[(p["name"], p.get("nodeName")) for p in data["pods"]],
            cluster_dns=data.get("clusterDNS", True),
            ip_masq_agent=data.get("ipMasqAgent", True),
            workloads=data.get("workloads", []),
        )


def default_node_names(count: int) -> list[str]:
    return [f"node-{i}" for i in range(1, count + 1)]


def generated_pods(node_names: list[str], per_node: int) -> list[tuple[str, str]]:
    """``pod-<n>-<j>``: Pod j on node n, pinned with spec.nodeName."""
    pods = []
    for index, node in enumerate(node_names, start=1):
        for j in range(1, per_node + 1):
            pods.append((f"pod-{index}-{j}", node))
    return pods


def build_spec(
    *,
    name: object = DEFAULT_LAB,
    cluster_cidr: object = DEFAULT_CLUSTER_CIDR,
    node_cidr_mask_size: object = DEFAULT_NODE_MASK,
    service_cidr: object = DEFAULT_SERVICE_CIDR,
    underlay_cidr: object = DEFAULT_UNDERLAY_CIDR,
    cni: object = "bridge",
    routing: object = "host-gw",
    max_pods: object = DEFAULT_MAX_PODS,
    static_arp: object = "auto",
    model: object = "kubernetes",
    underlay: object = "l2",
    nodes: list[tuple[object, object]] | None = None,
    pods: list[tuple[object, object]] | None = None,
    cluster_dns: object = True,
    ip_masq_agent: object = True,
    workloads: object = (),
) -> ClusterSpec:
    """Validate every field and return a frozen spec; raise InputError on the first problem."""
    lab = check_lab_name(name)
    cluster, service, underlay_net, mask = _ranges(cluster_cidr, service_cidr, underlay_cidr, node_cidr_mask_size)
    _check_choices(cni, routing, underlay, underlay_net, model, static_arp)
    max_pods_n = addressing.parse_int("max-pods", max_pods, 1, MAX_PODS_TOTAL)
    seen: dict[str, str] = {}
    node_specs = _node_specs(nodes or [], seen, underlay, underlay_net)
    pod_specs = _pod_specs(pods or [], seen, {n.name for n in node_specs})
    for flag, value in (("clusterDNS", cluster_dns), ("ipMasqAgent", ip_masq_agent)):
        if not isinstance(value, bool):
            raise InputError(flag, value, "must be true or false")
    if not isinstance(workloads, (list, tuple)):
        raise InputError("workloads", workloads, "must be a list of Kubernetes manifests")
    return ClusterSpec(
        name=lab, cluster_cidr=cluster, node_cidr_mask_size=mask, service_cidr=service,
        underlay_cidr=underlay_net, cni=cni, routing=routing, max_pods=max_pods_n,  # type: ignore[arg-type]
        static_arp=static_arp, model=model, underlay=underlay,  # type: ignore[arg-type]
        nodes=tuple(node_specs), pods=tuple(pod_specs),
        cluster_dns=cluster_dns, ip_masq_agent=ip_masq_agent, workloads=tuple(workloads),  # type: ignore[arg-type]
    )


def _ranges(cluster_cidr: object, service_cidr: object, underlay_cidr: object,
            node_cidr_mask_size: object) -> tuple[IPv4Network, IPv4Network, IPv4Network, int]:
    """The three ranges and the node mask, with kubeadm's rules and podnet's own."""
    cluster = addressing.parse_network("cluster-cidr", cluster_cidr)
    service = addressing.parse_network("service-cluster-ip-range", service_cidr)
    underlay = addressing.parse_network("underlay-cidr", underlay_cidr)
    mask = addressing.parse_int("node-cidr-mask-size", node_cidr_mask_size, 1, 32)
    addressing.check_node_mask(cluster, mask)
    addressing.check_no_overlap(
        {"cluster-cidr": cluster, "service-cluster-ip-range": service, "underlay-cidr": underlay}
    )
    addressing.check_underlay(underlay)
    if service.prefixlen > 30:
        raise InputError("service-cluster-ip-range", str(service), "must hold at least 2 addresses (/30 or larger)")
    return cluster, service, underlay, mask


def _check_choices(cni: object, routing: object, underlay: object, underlay_net: IPv4Network, model: object,
                   static_arp: object) -> None:
    if cni not in CNI_CHOICES:
        raise InputError("cni", cni, "must be one of " + ", ".join(CNI_CHOICES))
    if routing not in ROUTING_CHOICES:
        raise InputError("routing", routing, "must be one of " + ", ".join(ROUTING_CHOICES))
    if underlay not in UNDERLAY_CHOICES:
        raise InputError("underlay", underlay, "must be one of " + ", ".join(UNDERLAY_CHOICES))
    if underlay == "routed" and underlay_net.prefixlen > 26:
        raise InputError("underlay-cidr", str(underlay_net), "a routed underlay splits it in two segments: use /26 or larger")
    if model not in MODEL_CHOICES:
        raise InputError("network-model", model, "must be one of " + ", ".join(MODEL_CHOICES))
    if cni == "vpc" and (underlay != "l2" or routing != "host-gw"):
        raise InputError("cni", cni, "VPC-native Pods live on the node subnet itself: use it with "
                         "--underlay l2 and --routing host-gw (no overlay)")
    if static_arp not in STATIC_ARP_CHOICES:
        raise InputError("static-arp", static_arp, "must be one of " + ", ".join(STATIC_ARP_CHOICES))


def _node_specs(nodes: list[tuple[object, object]], seen: dict[str, str], underlay: object,
                underlay_net: IPv4Network) -> list[NodeSpec]:
    node_specs: list[NodeSpec] = []
    for raw_name, raw_role in nodes:
        node_name = _check_object_name("node name", raw_name, seen, "node")
        role = raw_role if raw_role is not None else "worker"
        if role not in ROLES:
            raise InputError(f"role of node {node_name}", role, "must be control-plane or worker")
        node_specs.append(NodeSpec(node_name, role))
    if not node_specs:
        raise InputError("nodes", 0, "a cluster needs at least 1 node")
    if len(node_specs) > MAX_NODES:
        raise InputError("nodes", len(node_specs), f"must be at most {MAX_NODES}")
    segments = 2 if underlay == "routed" else 1
    capacity = (underlay_net.num_addresses // segments - 2 - (FIRST_NODE_HOST - 1)) * segments
    if len(node_specs) > capacity:
        raise InputError(
            "nodes", len(node_specs),
            f"underlay-cidr {underlay_net} holds at most {max(capacity, 0)} nodes (from .{FIRST_NODE_HOST} of each segment)",
        )
    return node_specs


def _pod_specs(pods: list[tuple[object, object]], seen: dict[str, str], node_names: set[str]) -> list[PodSpec]:
    pod_specs: list[PodSpec] = []
    for raw_name, raw_node in pods:
        pod_name = _check_object_name("pod name", raw_name, seen, "pod")
        if raw_node is not None and (not isinstance(raw_node, str) or raw_node not in node_names):
            raise InputError(f"spec.nodeName of pod {pod_name}", raw_node, "must name a node of the cluster")
        pod_specs.append(PodSpec(pod_name, raw_node))  # type: ignore[arg-type]
    if len(pod_specs) > MAX_PODS_TOTAL:
        raise InputError("pods", len(pod_specs), f"must be at most {MAX_PODS_TOTAL} in one lab")
    return pod_specs


def _check_object_name(field_name: str, value: object, seen: dict[str, str], kind: str) -> str:
    name = check_dns1123_label(field_name, value)
    if name in RESERVED_NAMES:
        raise InputError(field_name, name, "is reserved for the lab's underlay switch and router")
    if name in seen:
        raise InputError(field_name, name, f"is already used by a {seen[name]} (names are unique in a lab)")
    seen[name] = kind
    return name


def with_cni(spec: ClusterSpec, cni: str) -> ClusterSpec:
    if cni not in CNI_CHOICES:
        raise InputError("cni", cni, "must be one of " + ", ".join(CNI_CHOICES))
    return dataclasses.replace(spec, cni=cni)
