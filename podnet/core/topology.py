"""Topology files and kind configs: data in, the keyword arguments of a cluster spec out.

Mirrors the two ways people describe a cluster before it exists: podnet's own topology file
(``topologies/*.yaml``: ranges named as Kubernetes names them, nodes, Pods, workloads) and
kind's ``Cluster`` config (``networking.podSubnet``, ``serviceSubnet``, ``disableDefaultCNI``,
``nodes[].role``; node names follow kind: ``kind-control-plane``, ``kind-worker``,
``kind-worker2``). Deviation: one file holds the whole lab; files are data, loaded with
``yaml.safe_load`` and never executed. Flags given on the command line win over the file.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import yaml

from podnet.core import addressing
from podnet.core.errors import InputError
from podnet.core.naming import check_dns1123_label
from podnet.core.spec import MAX_NODES, MAX_PODS_TOTAL, ROLES, ClusterSpec, build_spec, default_node_names, generated_pods

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


def topology_path(name_or_path: str, topologies_dir: str) -> str:
    """Resolve ``default`` to ``topologies/default.yaml``; a path is used as given."""
    if os.sep in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        return name_or_path
    return os.path.join(topologies_dir, name_or_path + ".yaml")
