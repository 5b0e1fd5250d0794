"""ip-masq-agent: which Pod traffic leaving a node is masqueraded, and which is not.

Mirrors the ip-masq-agent DaemonSet: POSTROUTING sends every packet for a non-local
destination to the IP-MASQ-AGENT chain, which RETURNs (no NAT) for the nonMasqueradeCIDRs
and link-local, and MASQUERADEs everything else to the node's address. Its defaults are the
RFC 1918 ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16); the cluster's Pod CIDR is
always added, so Pod-to-Pod traffic is never rewritten, whatever range the lab uses.
Deviation: the CIDR list comes from the lab spec, not from a ConfigMap. Pure.
"""

from __future__ import annotations

from ipaddress import IPv4Network

CHAIN = "IP-MASQ-AGENT"
DEFAULT_NON_MASQUERADE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
LINK_LOCAL = "169.254.0.0/16"

JUMP = ("nat", "POSTROUTING",
        '-m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic '
        'to our custom IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT')


def non_masquerade_cidrs(cluster_cidr: IPv4Network) -> list[str]:
    cidrs = list(DEFAULT_NON_MASQUERADE)
    if not any(cluster_cidr.subnet_of(IPv4Network(c)) for c in cidrs):
        cidrs.append(str(cluster_cidr))
    return cidrs


def rules(cluster_cidr: IPv4Network) -> list[str]:
    out = [f'-A {CHAIN} -d {LINK_LOCAL} -m comment --comment "ip-masq-agent: local traffic is not subject to '
           'MASQUERADE" -j RETURN']
    for cidr in non_masquerade_cidrs(cluster_cidr):
        out.append(f'-A {CHAIN} -d {cidr} -m comment --comment "ip-masq-agent: local traffic is not subject to '
                   'MASQUERADE" -j RETURN')
    out.append(f'-A {CHAIN} -m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE '
               '(must be last in chain)" -j MASQUERADE')
    return out
