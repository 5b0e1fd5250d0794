"""Names: Kubernetes object names, namespace names and interface names.

Mirrors apimachinery's DNS-1123 label validation (``IsDNS1123Label``) and the way the CNI
bridge plugin names host-side veths (``veth`` + 8 hex digits). Deviation: interface names
are derived from the sandbox ID with a hash instead of random bytes, so they are stable and
reproducible in tests; they are still unique and at most 15 characters (IFNAMSIZ - 1).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from podnet.core.errors import InputError

DNS1123_LABEL_MAX = 63
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LAB_NAME_MAX = 40
IFNAME_MAX = 15

# The underlay switch owns this name inside every lab; nodes and Pods may not take it.
UNDERLAY_NAME = "underlay"
ROUTER_NAME = "router"  # the router between underlay segments (routed underlay)
INTERNET_NAME = "internet"  # the emulated Internet: 8.8.8.8 and the nodes' uplink
EXTERNAL_NAME = "external"  # an emulated client outside the cluster
RESERVED_NAMES = frozenset({UNDERLAY_NAME, ROUTER_NAME, INTERNET_NAME, EXTERNAL_NAME})


def check_dns1123_label(field: str, value: object, max_len: int = DNS1123_LABEL_MAX) -> str:
    """Return ``value`` if it is a DNS-1123 label, else raise InputError naming ``field``."""
    if not isinstance(value, str) or not value:
        raise InputError(field, value, "must be a non-empty string")
    if len(value) > max_len:
        raise InputError(field, value, f"must be no more than {max_len} characters")
    if not _DNS1123_LABEL.fullmatch(value):
        raise InputError(
            field,
            value,
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
            "or '-', and must start and end with an alphanumeric character",
        )
    return value


def check_lab_name(value: object) -> str:
    return check_dns1123_label("lab name", value, LAB_NAME_MAX)


def netns_name(lab: str, name: str) -> str:
    """The named network namespace of a node or Pod: ``<lab>-<name>``."""
    return f"{lab}-{name}"


def new_sandbox_id() -> str:
    """A 64-hex-digit sandbox ID, the shape containerd gives CNI_CONTAINERID."""
    return secrets.token_hex(32)


def host_veth_name(sandbox_id: str) -> str:
    """Host-side veth name of a Pod: ``veth`` + 8 hex digits, as the bridge plugin does."""
    name = "veth" + hashlib.sha256(sandbox_id.encode()).hexdigest()[:8]
    assert len(name) <= IFNAME_MAX
    return name


def underlay_port_name(index: int) -> str:
    """Name of the underlay switch port facing node number ``index`` (1-based), Mininet style."""
    name = f"{UNDERLAY_NAME}-eth{index}"
    if len(name) > IFNAME_MAX:
        name = f"ul-eth{index}"
    return name
