"""Connection tracking inside a lab namespace: finding and deleting UDP entries.

Mirrors ``conntrack -D -p udp --orig-dst IP`` / ``--reply-src IP`` as kube-proxy runs them
when a Service or an endpoint goes away, through netlink (pyroute2's ``Conntrack`` socket,
opened inside the namespace by the namespace worker). Only the lab's own namespaces are read.
"""

from __future__ import annotations

from podnet.kernel.netns import NetnsWorker

UDP = 17


def delete_udp_entries(worker: NetnsWorker, netns: str, reply_sources: set[str], original_destinations: set[str]) -> int:
    """Delete the UDP entries in ``netns`` whose reply comes from one of ``reply_sources`` or
    whose original destination is one of ``original_destinations``; returns how many went."""
    if not reply_sources and not original_destinations:
        return 0
    from pyroute2 import Conntrack
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    ct = worker.run_in(netns, Conntrack)
    deleted = 0
    try:
        for entry in list(ct.dump_entries(tuple_orig=NFCTAttrTuple(proto=UDP))):
            if entry.tuple_reply.saddr in reply_sources or entry.tuple_orig.daddr in original_destinations:
                try:
                    ct.entry("del", tuple_orig=entry.tuple_orig)
                    deleted += 1
                except Exception:  # noqa: BLE001 - already expired: nothing to delete
                    pass
    finally:
        ct.close()
    return deleted
