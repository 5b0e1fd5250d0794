"""The cluster DNS's records and every namespace's resolv.conf, written when Services change.

Mirrors two things a cluster keeps current: CoreDNS's view of the Services (its
``kubernetes`` plugin watches them; here the records file its server reloads) and the
resolv.conf the kubelet writes into each Pod for ``dnsPolicy: ClusterFirst`` (one per
Kubernetes namespace: the search path differs). Deviation: files in the lab's directory,
replaced atomically (temporary file, rename), instead of a watch on the API server.
"""

from __future__ import annotations

import json
import os

from podnet.core.change import CNI, PODS, RESYNC, SERVICES, Change, Progress
from podnet.k8s.dns import addons
from podnet.kernel.context import KernelContext


class ClusterDns:
    name = "cluster-dns"
    watches = frozenset({CNI, PODS, SERVICES, RESYNC})

    def sync(self, ctx: KernelContext, change: Change, progress: Progress) -> int:
        """Returns how many files were written."""
        os.makedirs(ctx.paths.dns_dir, mode=0o755, exist_ok=True)
        files = {ctx.paths.dns_zone: json.dumps(addons.zone(ctx.state), indent=1)}
        for namespace in {p.namespace for p in ctx.state.pods.values()} | {"default"}:
            files[ctx.paths.resolv_conf(namespace)] = addons.resolv_conf(ctx.state, namespace)
        for path, text in files.items():
            tmp = path + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        return len(files)
