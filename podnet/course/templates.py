"""Values in lab files that refer to the live lab: ``{pod-ip:pod-1-1}``, ``{service-ip:web}``...

Mirrors the placeholders of a lab guide that must hold for any run (IPs change on every
bring-up): a check or an answer key is written once with templates, resolved against the
lab's state when it is used. Pure: the state is passed in.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network

from podnet.core.errors import InputError
from podnet.core.model import RUNNING, LabState
from podnet.course.results import NotRunning

_NESTED = re.compile(r"\{[a-z-]+:[^{}]*\{")  # a template whose argument holds another
_TEMPLATE = re.compile(r"\{([a-z-]+):([^{}]*)\}|\{([a-z-]+)\}")


def resolve(state: LabState | None, text: object, record: dict | None = None) -> object:
    """Replace ``{kind:arg}`` in ``text`` with values from the live lab (non-strings pass).
    Templates nest, the innermost first: ``{pod-ip:{first-pod:shop/backend}}``."""
    if not isinstance(text, str):
        return text

    def value(match: re.Match) -> object:
        return _value(state, match.group(1) or match.group(3), match.group(2) or "", record)

    for _depth in range(3):
        whole = _TEMPLATE.fullmatch(text)
        if whole:
            return value(whole)
        if not _NESTED.search(text):
            break
        text = _TEMPLATE.sub(lambda m: str(value(m)), text)
    return _TEMPLATE.sub(lambda m: str(value(m)), text)


def _value(state: LabState | None, kind: str, arg: str, record: dict | None) -> object:
    if state is None:
        raise NotRunning("the lab is not running")
    if kind == "pod-ip":
        pod = state.pods.get(arg)
        if pod is None or not pod.ip:
            raise InputError("template", f"{{pod-ip:{arg}}}", "that Pod has no IP")
        return pod.ip
    if kind == "node-ip":
        return state.nodes[arg].internal_ip
    if kind == "pod-node":
        return state.pods[arg].node
    if kind in ("service-ip", "node-port"):
        key = arg if "/" in arg else f"default/{arg}"
        service = state.services.get(key)
        if service is None:
            raise InputError("template", f"{{{kind}:{arg}}}", "no such Service")
        return service.cluster_ip if kind == "service-ip" else service.ports[0].node_port
    if kind == "first-pod":
        owned = sorted(p.name for p in state.pods.values() if p.owner == (arg if "/" in arg else f"default/{arg}"))
        if not owned:
            raise InputError("template", f"{{first-pod:{arg}}}", "that Deployment has no Pods")
        return owned[0]
    if kind == "count-phase":
        return sum(1 for p in state.pods.values() if p.phase == arg and p.namespace == "default")
    if kind == "nodes-with-cidr":
        return sum(1 for n in state.nodes.values() if n.pod_cidr)
    if kind == "node-cidr":
        return state.nodes[arg].pod_cidr
    if kind == "cluster-cidr":
        return str(state.spec.cluster_cidr)
    if kind == "recorded-ip":
        return (record or {}).get("pods", {}).get(arg)
    if kind in ("new-pod-ips", "gone-pod-ips"):
        # A Deployment's Pods compared with the ones a `record` step saw: the IPs of Pods that
        # appeared since (new) or of recorded Pods that are gone. A list: every one is accepted.
        before = (record or {}).get("pods", {})
        now = {p.name: p.ip for p in state.pods.values() if p.owner == f"default/{arg}"}
        pairs = now.items() if kind == "new-pod-ips" else before.items()
        other = before if kind == "new-pod-ips" else now
        return sorted(ip for name, ip in pairs if name not in other and ip)
    raise InputError("template", f"{{{kind}:{arg}}}", "unknown template")


def overlaps(state: LabState) -> list[str]:
    spec = state.spec
    ranges = {"clusterCIDR": spec.cluster_cidr, "serviceCIDR": spec.service_cidr, "underlayCIDR": spec.underlay_cidr}
    found = []
    names = list(ranges)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if IPv4Network(ranges[a]).overlaps(IPv4Network(ranges[b])):
                found.append(f"{a} {ranges[a]} overlaps {b} {ranges[b]}")
    return found


def is_running_pod(state: LabState, name: str) -> bool:
    pod = state.pods.get(name)
    return pod is not None and pod.phase == RUNNING
