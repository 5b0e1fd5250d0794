"""The CNI DaemonSet's job on every node: write (or remove) the node's conflist.

Mirrors what flannel's or kindnet's agent does when it starts on a node: render
``10-podnet.conflist`` for the node's ``spec.podCIDR`` (bridge or ptp with host-local IPAM,
the MTU its routing backend allows) and drop it where the runtime looks. VPC-native nodes get
one pool over the node subnet instead; a node without a podCIDR (``CIDRNotAvailable``) gets no
config, as flannel would write none; ``--cni none`` removes it. Deviations: the directory is
the lab's own (``/run/podnet/<lab>/cni/<node>``), never the machine's ``/etc/cni``; the file is
written atomically (temporary file, rename) with mode 0600. The kubelet notices the config on
its next sync (node readiness follows it there).
"""

from __future__ import annotations

import json
import os
from ipaddress import IPv4Network

from podnet.core.change import CNI, ROUTING, Change, Progress
from podnet.core.netobjects import pod_mtu
from podnet.core.spec import FIRST_NODE_HOST
from podnet.k8s.cni.config import CONFLIST_NAME, render_conflist, render_vpc_conflist
from podnet.k8s.cni.vpc import pod_range as vpc_pod_range
from podnet.kernel.context import KernelContext


class CniDaemonSet:
    name = "cni-daemonset"
    watches = frozenset({CNI, ROUTING})

    def sync(self, ctx: KernelContext, change: Change, progress: Progress) -> int:
        """Write every node's conflist for the lab's CNI choice; returns how many nodes have one."""
        written = 0
        for node in ctx.state.nodes.values():
            conflist = self.conflist_for(ctx, node)
            path = os.path.join(ctx.paths.cni_dir(node.name), CONFLIST_NAME)
            if conflist is None:
                if os.path.exists(path):
                    os.unlink(path)
                node.cni_config = None
                continue
            _write_json(path, conflist)
            node.cni_config = path
            written += 1
        return written

    @staticmethod
    def conflist_for(ctx: KernelContext, node) -> dict | None:
        spec = ctx.state.spec
        if spec.cni == "vpc":
            pool = vpc_pod_range(spec.underlay_cidr, len(ctx.state.nodes), FIRST_NODE_HOST)
            return render_vpc_conflist(spec.underlay_cidr, str(pool.first), str(pool.last),
                                       os.path.join(ctx.paths.root, "ipam", "vpc"))
        if node.pod_cidr is None:
            return None  # CIDRNotAvailable: no slice, so no config
        return render_conflist(spec.cni, IPv4Network(node.pod_cidr), ctx.paths.ipam_dir(node.name), pod_mtu(spec.routing))


def _write_json(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)
