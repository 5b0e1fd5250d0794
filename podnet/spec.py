"""The cluster spec: what a lab should look like, from CLI flags or a topology file.

Mirrors the inputs of a real cluster build: kube-controller-manager's ``--cluster-cidr``,
``--node-cidr-mask-size`` and ``--service-cluster-ip-range``, kubelet's ``maxPods``, the
node list, the CNI choice, and Pods with ``spec.nodeName``. A kind ``Cluster`` config is read
too (``networking.podSubnet``, ``serviceSubnet``, ``disableDefaultCNI``, ``nodes[].role``).
Deviation: one file holds the whole lab (ranges, nodes, workloads); topology files are data,
loaded with ``yaml.safe_load`` and never executed. Everything is validated here, before any
kernel object exists.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any, Mapping

import yaml

from podnet import addressing
from podnet.errors import InputError
from podnet.naming import RESERVED_NAMES, check_dns1123_label, check_lab_name

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
MAX_PODS_TOTAL = 5000


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
    cluster = addressing.parse_network("cluster-cidr", cluster_cidr)
    service = addressing.parse_network("service-cluster-ip-range", service_cidr)
    underlay_mode = underlay
    underlay = addressing.parse_network("underlay-cidr", underlay_cidr)
    mask = addressing.parse_int("node-cidr-mask-size", node_cidr_mask_size, 1, 32)
    addressing.check_node_mask(cluster, mask)
    addressing.check_no_overlap(
        {"cluster-cidr": cluster, "service-cluster-ip-range": service, "underlay-cidr": underlay}
    )
    addressing.check_underlay(underlay)
    if service.prefixlen > 30:
        raise InputError("service-cluster-ip-range", str(service), "must hold at least 2 addresses (/30 or larger)")
    if cni not in CNI_CHOICES:
        raise InputError("cni", cni, "must be one of " + ", ".join(CNI_CHOICES))
    if routing not in ROUTING_CHOICES:
        raise InputError("routing", routing, "must be one of " + ", ".join(ROUTING_CHOICES))
    max_pods_n = addressing.parse_int("max-pods", max_pods, 1, MAX_PODS_TOTAL)
    if underlay_mode not in UNDERLAY_CHOICES:
        raise InputError("underlay", underlay_mode, "must be one of " + ", ".join(UNDERLAY_CHOICES))
    if underlay_mode == "routed" and underlay.prefixlen > 26:
        raise InputError("underlay-cidr", str(underlay), "a routed underlay splits it in two segments: use /26 or larger")
    if model not in MODEL_CHOICES:
        raise InputError("network-model", model, "must be one of " + ", ".join(MODEL_CHOICES))
    if cni == "vpc" and (underlay_mode != "l2" or routing != "host-gw"):
        raise InputError("cni", cni, "VPC-native Pods live on the node subnet itself: use it with "
                         "--underlay l2 and --routing host-gw (no overlay)")
    if static_arp not in STATIC_ARP_CHOICES:
        raise InputError("static-arp", static_arp, "must be one of " + ", ".join(STATIC_ARP_CHOICES))

    node_specs: list[NodeSpec] = []
    seen: dict[str, str] = {}
    for raw_name, raw_role in nodes or []:
        node_name = _check_object_name("node name", raw_name, seen, "node")
        role = raw_role if raw_role is not None else "worker"
        if role not in ROLES:
            raise InputError(f"role of node {node_name}", role, "must be control-plane or worker")
        node_specs.append(NodeSpec(node_name, role))
    if not node_specs:
        raise InputError("nodes", 0, "a cluster needs at least 1 node")
    if len(node_specs) > MAX_NODES:
        raise InputError("nodes", len(node_specs), f"must be at most {MAX_NODES}")
    segments = 2 if underlay_mode == "routed" else 1
    capacity = (underlay.num_addresses // segments - 2 - (FIRST_NODE_HOST - 1)) * segments
    if len(node_specs) > capacity:
        raise InputError(
            "nodes", len(node_specs),
            f"underlay-cidr {underlay} holds at most {max(capacity, 0)} nodes (from .{FIRST_NODE_HOST} of each segment)",
        )

    pod_specs: list[PodSpec] = []
    for raw_name, raw_node in pods or []:
        pod_name = _check_object_name("pod name", raw_name, seen, "pod")
        if raw_node is not None and (not isinstance(raw_node, str) or raw_node not in {n.name for n in node_specs}):
            raise InputError(f"spec.nodeName of pod {pod_name}", raw_node, "must name a node of the cluster")
        pod_specs.append(PodSpec(pod_name, raw_node))  # type: ignore[arg-type]
    if len(pod_specs) > MAX_PODS_TOTAL:
        raise InputError("pods", len(pod_specs), f"must be at most {MAX_PODS_TOTAL} in one lab")

    for flag, value in (("clusterDNS", cluster_dns), ("ipMasqAgent", ip_masq_agent)):
        if not isinstance(value, bool):
            raise InputError(flag, value, "must be true or false")
    if not isinstance(workloads, (list, tuple)):
        raise InputError("workloads", workloads, "must be a list of Kubernetes manifests")
    if workloads:
        from podnet.workloads.manifests import parse_documents

        parsed = parse_documents(list(workloads), "workloads")
        pod_names = {p.name for p in pod_specs} | {n.name for n in node_specs}
        for obj in parsed:
            if obj.kind == "Pod" and obj.name in pod_names:
                raise InputError("workloads Pod", obj.name, "is already used by a node or Pod of the topology")
            node = getattr(obj, "node_name", None)
            if node is not None and node not in {n.name for n in node_specs}:
                raise InputError(f"spec.nodeName of {obj.kind} {obj.name}", node, "must name a node of the cluster")
    return ClusterSpec(
        name=lab, cluster_cidr=cluster, node_cidr_mask_size=mask, service_cidr=service,
        underlay_cidr=underlay, cni=cni, routing=routing, max_pods=max_pods_n,  # type: ignore[arg-type]
        static_arp=static_arp, model=model, underlay=underlay_mode,  # type: ignore[arg-type]
        nodes=tuple(node_specs), pods=tuple(pod_specs),
        cluster_dns=cluster_dns, ip_masq_agent=ip_masq_agent, workloads=tuple(workloads),  # type: ignore[arg-type]
    )


def _check_object_name(field_name: str, value: object, seen: dict[str, str], kind: str) -> str:
    name = check_dns1123_label(field_name, value)
    if name in RESERVED_NAMES:
        raise InputError(field_name, name, "is reserved for the lab's underlay switch and router")
    if name in seen:
        raise InputError(field_name, name, f"is already used by a {seen[name]} (names are unique in a lab)")
    seen[name] = kind
    return name


# --- topology files ---------------------------------------------------------------------------

TOPOLOGY_KEYS = {"name", "networking", "nodes", "podsPerNode", "pods", "description", "kind", "apiVersion",
                 "workloads"}
NETWORKING_KEYS = {"clusterCIDR", "nodeCIDRMaskSize", "serviceCIDR", "underlayCIDR", "cni", "routing", "maxPods",
                   "staticArp", "underlay", "clusterDNS", "ipMasqAgent", "networkModel"}
KIND_NETWORKING_KEYS = {
    "podSubnet", "serviceSubnet", "disableDefaultCNI", "ipFamily", "apiServerAddress",
    "apiServerPort", "kubeProxyMode", "dnsSearch",
}


def read_topology(path: str) -> dict[str, Any]:
    """Load a topology file as data. Returns keyword arguments for :func:`build_spec`
    (without pods-per-node expansion: ``podsPerNode`` is returned as ``pods_per_node``)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise InputError("topology", path, "no such file") from None
    except IsADirectoryError:
        raise InputError("topology", path, "is a directory, not a YAML file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise InputError("topology", path, f"is not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise InputError("topology", path, "must be a YAML mapping")
    if data.get("kind") == "Cluster":
        return _from_kind_config(path, data)
    return _from_podnet_topology(path, data)


def _from_podnet_topology(path: str, data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - TOPOLOGY_KEYS
    if unknown:
        raise InputError("topology key", sorted(unknown, key=str)[0], "allowed keys: " + ", ".join(sorted(TOPOLOGY_KEYS)))
    networking = data.get("networking") or {}
    if not isinstance(networking, dict):
        raise InputError("networking", networking, "must be a mapping")
    unknown = set(networking) - NETWORKING_KEYS
    if unknown:
        raise InputError("networking key", sorted(unknown, key=str)[0], "allowed keys: " + ", ".join(sorted(NETWORKING_KEYS)))
    args: dict[str, Any] = {}
    mapping = {
        "clusterCIDR": "cluster_cidr", "nodeCIDRMaskSize": "node_cidr_mask_size",
        "serviceCIDR": "service_cidr", "underlayCIDR": "underlay_cidr", "cni": "cni",
        "routing": "routing", "maxPods": "max_pods", "staticArp": "static_arp", "underlay": "underlay",
        "clusterDNS": "cluster_dns", "ipMasqAgent": "ip_masq_agent", "networkModel": "model",
    }
    for key, arg in mapping.items():
        if key in networking:
            args[arg] = networking[key]
    if "name" in data:
        args["name"] = data["name"]
    nodes = data.get("nodes")
    if nodes is not None:
        if isinstance(nodes, int) and not isinstance(nodes, bool):
            count = addressing.parse_int("nodes", nodes, 1, MAX_NODES)
            args["nodes"] = [(n, "control-plane" if i == 0 else "worker") for i, n in enumerate(default_node_names(count))]
        elif isinstance(nodes, list):
            args["nodes"] = [_node_entry(i, entry) for i, entry in enumerate(nodes)]
        else:
            raise InputError("nodes", nodes, "must be a number or a list of {name, role}")
    if "podsPerNode" in data:
        args["pods_per_node"] = addressing.parse_int("podsPerNode", data["podsPerNode"], 0, MAX_PODS_TOTAL)
    pods = data.get("pods")
    if pods is not None:
        if not isinstance(pods, list):
            raise InputError("pods", pods, "must be a list of {name, nodeName}")
        args["pods"] = [_pod_entry(i, entry) for i, entry in enumerate(pods)]
    if "workloads" in data:
        args["workloads"] = _workloads(path, data["workloads"])
    return args


def _workloads(path: str, entries: object) -> list[object]:
    """``workloads:`` holds manifests inline, or ``{file: other.yaml}`` relative to the topology."""
    if not isinstance(entries, list):
        raise InputError("workloads", entries, "must be a list of manifests or {file: PATH} entries")
    documents: list[object] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and set(entry) == {"file"}:
            target = entry["file"]
            if not isinstance(target, str) or not target:
                raise InputError(f"workloads[{index}].file", target, "must be a path")
            full = target if os.path.isabs(target) else os.path.join(os.path.dirname(os.path.abspath(path)), target)
            try:
                with open(full, encoding="utf-8") as handle:
                    documents += [d for d in yaml.safe_load_all(handle) if d is not None]
            except FileNotFoundError:
                raise InputError(f"workloads[{index}].file", target, "no such file") from None
            except yaml.YAMLError:
                raise InputError(f"workloads[{index}].file", target, "is not valid YAML") from None
        else:
            documents.append(entry)
    return documents


def _entry(list_name: str, index: int, entry: object, second: str) -> tuple[object, object]:
    """One ``{name, <second>}`` mapping of the ``nodes`` or ``pods`` list."""
    where = f"{list_name}[{index}]"
    if not isinstance(entry, dict) or "name" not in entry:
        raise InputError(where, entry, f"must be a mapping with a name (and optional {second})")
    extra = set(entry) - {"name", second}
    if extra:
        raise InputError(f"{where} key", sorted(extra, key=str)[0], f"allowed keys: name, {second}")
    return entry["name"], entry.get(second)


def _node_entry(index: int, entry: object) -> tuple[object, object]:
    return _entry("nodes", index, entry, "role")


def _pod_entry(index: int, entry: object) -> tuple[object, object]:
    return _entry("pods", index, entry, "nodeName")


def _from_kind_config(path: str, data: dict[str, Any]) -> dict[str, Any]:
    """kind's ``Cluster``: node names follow kind (``<name>-control-plane``, ``<name>-worker2``)."""
    networking = data.get("networking") or {}
    if not isinstance(networking, dict):
        raise InputError("networking", networking, "must be a mapping")
    unknown = set(networking) - KIND_NETWORKING_KEYS
    if unknown:
        raise InputError("networking key", sorted(unknown, key=str)[0], "not a kind networking field")
    if networking.get("ipFamily", "ipv4") != "ipv4":
        raise InputError("networking.ipFamily", networking["ipFamily"], "only ipv4 is supported by podnet")
    cluster_name = data.get("name", "kind")
    args: dict[str, Any] = {"name": cluster_name}
    if "podSubnet" in networking:
        args["cluster_cidr"] = networking["podSubnet"]
    if "serviceSubnet" in networking:
        args["service_cidr"] = networking["serviceSubnet"]
    if networking.get("disableDefaultCNI"):
        args["cni"] = "none"
    roles = data.get("nodes") or [{"role": "control-plane"}]
    if not isinstance(roles, list):
        raise InputError("nodes", roles, "must be a list of {role}")
    nodes: list[tuple[object, object]] = []
    counts = {"control-plane": 0, "worker": 0}
    for index, entry in enumerate(roles):
        role = entry.get("role", "control-plane") if isinstance(entry, dict) else None
        if role not in ROLES:
            raise InputError(f"nodes[{index}].role", role, "must be control-plane or worker")
        counts[role] += 1
        suffix = "" if counts[role] == 1 else str(counts[role])
        nodes.append((f"{cluster_name}-{role}{suffix}", role))
    args["nodes"] = nodes
    return args


def spec_from_sources(topology: str | None, overrides: Mapping[str, Any]) -> ClusterSpec:
    """Merge a topology file (if any) with explicit CLI flags (which win), then validate.

    ``overrides`` may hold build_spec's keyword arguments plus ``node_count`` and
    ``pods_per_node``; keys whose value is None are ignored.
    """
    args: dict[str, Any] = read_topology(topology) if topology else {}
    given = {k: v for k, v in overrides.items() if v is not None}
    node_count = given.pop("node_count", None)
    pods_per_node = given.pop("pods_per_node", None)
    args.update(given)
    if node_count is not None:
        count = addressing.parse_int("nodes", node_count, 1, MAX_NODES)
        args["nodes"] = [(n, "control-plane" if i == 0 else "worker") for i, n in enumerate(default_node_names(count))]
    elif "nodes" not in args:
        args["nodes"] = [(n, "control-plane" if i == 0 else "worker") for i, n in enumerate(default_node_names(3))]
    file_ppn = args.pop("pods_per_node", None)
    per_node = pods_per_node if pods_per_node is not None else file_ppn
    if per_node is None and "pods" not in args:
        per_node = 2
    if per_node is not None:
        per_node = addressing.parse_int("pods-per-node", per_node, 0, MAX_PODS_TOTAL)
        names = [n for n, _ in args["nodes"]]
        for raw in names:
            check_dns1123_label("node name", raw)
        args["pods"] = list(args.get("pods") or []) + generated_pods(names, per_node)  # type: ignore[arg-type]
    return build_spec(**args)


def with_cni(spec: ClusterSpec, cni: str) -> ClusterSpec:
    if cni not in CNI_CHOICES:
        raise InputError("cni", cni, "must be one of " + ", ".join(CNI_CHOICES))
    return dataclasses.replace(spec, cni=cni)


def topology_path(name_or_path: str, topologies_dir: str) -> str:
    """Resolve ``default`` to ``topologies/default.yaml``; a path is used as given."""
    if os.sep in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        return name_or_path
    return os.path.join(topologies_dir, name_or_path + ".yaml")
