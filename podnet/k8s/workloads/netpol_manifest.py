"""A NetworkPolicy manifest validated as the API server validates it, with its defaults.

Mirrors ``ValidateNetworkPolicySpec`` (pkg/apis/networking/validation) and the API's
defaulting: ``podSelector`` (``{}`` selects every Pod of the namespace), ``policyTypes``
(``Ingress``, ``Egress``; when omitted, Ingress always and Egress only if the spec has egress
rules), ingress ``from`` and egress ``to`` peers (``podSelector``, ``namespaceSelector``, both
in one peer, or ``ipBlock`` with ``except``: "may not specify both ipBlock and another peer",
"must specify a peer", every except "a strict subset of `cidr`"), and ``ports`` (``protocol``
defaulting to TCP, a numeric or named ``port``, ``endPort`` only after a numeric port and not
below it). Messages are the API server's. Deviation: SCTP is refused by name (podnet emulates
TCP and UDP). A field the API does not have is refused ("strict decoding error: unknown field",
as ``kubectl apply`` validates by default), so a typo like ``ingres`` cannot quietly become a
deny-all. The result is the spec in the API's JSON shape, defaults filled in. Pure.
"""

from __future__ import annotations

import ipaddress
import re

from podnet.k8s.workloads import selectors
from podnet.k8s.workloads.api_fields import (
    Forbidden, InvalidObject, RequiredValue, UnsupportedValue, int_field, known_fields, protocol_field,
)
from podnet.k8s.workloads.objects import NetworkPolicyObject

KIND = "NetworkPolicy"
POLICY_TYPES = ("Ingress", "Egress")
_PORT_NAME_CHARS = re.compile(r"^[-a-z0-9]+$")


def parse_network_policy(name: str, namespace: str, spec: dict) -> NetworkPolicyObject:
    known_fields(KIND, name, "spec", spec, ("podSelector", "policyTypes", "ingress", "egress"))
    pod_selector = selectors.parse(KIND, name, "spec.podSelector", spec.get("podSelector"))
    out: dict = {"podSelector": pod_selector.to_json()}
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(direction)
        if rules is None:
            continue
        if not isinstance(rules, list):
            raise InvalidObject(KIND, name, f"spec.{direction}", rules, "must be a list of rules")
        out[direction] = [_rule(name, f"spec.{direction}[{i}]", rule, peers_key) for i, rule in enumerate(rules)]
    out["policyTypes"] = _policy_types(name, spec.get("policyTypes"), bool(out.get("egress")))
    return NetworkPolicyObject(name, namespace, out)


def _policy_types(name: str, raw: object, has_egress: bool) -> list[str]:
    if raw is None:
        return ["Ingress", "Egress"] if has_egress else ["Ingress"]
    if not isinstance(raw, list):
        raise InvalidObject(KIND, name, "spec.policyTypes", raw, "must be a list of Ingress and Egress")
    if len(raw) > len(POLICY_TYPES):
        raise InvalidObject(KIND, name, "spec.policyTypes", raw, "may not specify more than two policyTypes")
    for index, value in enumerate(raw):
        if value not in POLICY_TYPES:
            raise UnsupportedValue(KIND, name, f"spec.policyTypes[{index}]", value, POLICY_TYPES)
    return list(raw)


def _rule(name: str, path: str, raw: object, peers_key: str) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidObject(KIND, name, path, raw, f"must be a mapping with {peers_key} and ports")
    known_fields(KIND, name, path, raw, (peers_key, "ports"))
    rule: dict = {}
    ports = raw.get("ports")
    if ports is not None:
        if not isinstance(ports, list):
            raise InvalidObject(KIND, name, f"{path}.ports", ports, "must be a list")
        rule["ports"] = [_port(name, f"{path}.ports[{i}]", p) for i, p in enumerate(ports)]
    peers = raw.get(peers_key)
    if peers is not None:
        if not isinstance(peers, list):
            raise InvalidObject(KIND, name, f"{path}.{peers_key}", peers, "must be a list of peers")
        rule[peers_key] = [_peer(name, f"{path}.{peers_key}[{i}]", p) for i, p in enumerate(peers)]
    return rule


def _port(name: str, path: str, raw: object) -> dict:
    if not isinstance(raw, dict):
        raise InvalidObject(KIND, name, path, raw, "must be a mapping with protocol, port and endPort")
    known_fields(KIND, name, path, raw, ("protocol", "port", "endPort"))
    port: dict = {"protocol": protocol_field(KIND, name, f"{path}.protocol", raw.get("protocol"))}
    value, end = raw.get("port"), raw.get("endPort")
    if value is None:
        if end is not None:
            raise InvalidObject(KIND, name, f"{path}.endPort", end, "may not be specified when `port` is not specified")
        return port
    if isinstance(value, str) and not value.isdigit():
        if end is not None:
            raise InvalidObject(KIND, name, f"{path}.endPort", end, "may not be specified when `port` is non-numeric")
        port["port"] = _port_name(name, f"{path}.port", value)
        return port
    port["port"] = int_field(KIND, name, f"{path}.port", int(value) if isinstance(value, str) else value, 1, 65535)
    if end is not None:
        end = int_field(KIND, name, f"{path}.endPort", end, 1, 65535)
        if end < port["port"]:
            raise InvalidObject(KIND, name, f"{path}.endPort", end, "must be greater than or equal to `port`")
        port["endPort"] = end
    return port


def _port_name(name: str, path: str, value: str) -> str:
    """IsValidPortName's rules, in its words."""
    if len(value) > 15:
        detail = "must be no more than 15 characters"
    elif not _PORT_NAME_CHARS.fullmatch(value):
        detail = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    elif "--" in value:
        detail = "must not contain consecutive hyphens"
    elif not any(c.isalpha() for c in value):
        detail = "must contain at least one letter (a-z)"
    elif value.startswith("-") or value.endswith("-"):
        detail = "must not begin or end with a hyphen"
    else:
        return value
    raise InvalidObject(KIND, name, path, value, detail)


def _peer(name: str, path: str, raw: object) -> dict:
    if not isinstance(raw, dict):
        raise InvalidObject(KIND, name, path, raw, "must be a mapping with podSelector, namespaceSelector or ipBlock")
    known_fields(KIND, name, path, raw, ("podSelector", "namespaceSelector", "ipBlock"))
    peer: dict = {}
    for key in ("podSelector", "namespaceSelector"):
        if key in raw:
            peer[key] = selectors.parse(KIND, name, f"{path}.{key}", raw[key]).to_json()
    if "ipBlock" in raw:
        peer["ipBlock"] = _ip_block(name, f"{path}.ipBlock", raw["ipBlock"])
    if not peer:
        raise RequiredValue(KIND, name, path, "must specify a peer")
    if "ipBlock" in peer and len(peer) > 1:
        raise Forbidden(KIND, name, path, "may not specify both ipBlock and another peer")
    return peer


def _ip_block(name: str, path: str, raw: object) -> dict:
    if not isinstance(raw, dict):
        raise InvalidObject(KIND, name, path, raw, "must be a mapping with cidr and except")
    known_fields(KIND, name, path, raw, ("cidr", "except"))
    cidr_text = raw.get("cidr")
    if not cidr_text:
        raise RequiredValue(KIND, name, f"{path}.cidr")
    cidr = _cidr(name, f"{path}.cidr", cidr_text)
    excepts = raw.get("except") or []
    if not isinstance(excepts, list):
        raise InvalidObject(KIND, name, f"{path}.except", excepts, "must be a list of CIDRs")
    for index, text in enumerate(excepts):
        inner = _cidr(name, f"{path}.except[{index}]", text)
        if inner.version != cidr.version or not inner.subnet_of(cidr) or inner.prefixlen <= cidr.prefixlen:
            raise InvalidObject(KIND, name, f"{path}.except[{index}]", text, "must be a strict subset of `cidr`")
    block: dict = {"cidr": str(cidr_text)}
    if excepts:
        block["except"] = [str(e) for e in excepts]
    return block


def _cidr(name: str, path: str, text: object):
    try:
        if not isinstance(text, str) or "/" not in text:
            raise ValueError
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidObject(KIND, name, path, text, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)") from None
