"""Reading a saved capture back: the IPv4 packets of a pcap, as (source, destination, port).

Mirrors what one reads off Wireshark's packet list for a networking lab: who talked to whom,
on which port. scapy does the dissection (imported on first use); a file that is not a pcap
is a ``ValueError`` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flow:
    src: str
    dst: str
    dport: int | None  # TCP or UDP destination port, None for other protocols


def read_flows(path: str) -> tuple[int, list[Flow]]:
    """(packets in the file, one Flow per IPv4 packet)."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.utils import rdpcap

    try:
        packets = rdpcap(path)
    except Exception as exc:  # noqa: BLE001 - scapy raises many kinds for a file that is not a pcap
        raise ValueError(f"{path} is not a readable pcap: {exc}") from None
    flows = []
    for packet in packets:
        if not packet.haslayer(IP):
            continue
        layer = packet[TCP] if packet.haslayer(TCP) else packet[UDP] if packet.haslayer(UDP) else None
        flows.append(Flow(packet[IP].src, packet[IP].dst, int(layer.dport) if layer is not None else None))
    return len(packets), flows
