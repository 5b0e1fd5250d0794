"""Which program each Pod's container runs, and starting the ones that should be running.

Mirrors the kubelet's container start after the sandbox is up: every Running Pod whose
container is not alive gets it started (a Pod with declared container ports serves them with
the echo image; CoreDNS's Pod serves the cluster DNS from the records file, forwarding other
names to the emulated 8.8.8.8), and the kubelet waits until each serves before it counts as
Ready, then records a ``Started`` event. Deviation: a Pod without ports runs no process (its
sandbox is enough for every network test); see :mod:`podnet.k8s.kubelet.containers` for how
the process is started and stopped.
"""

from __future__ import annotations

from podnet.core.layout import DNS_GOOGLE
from podnet.core.model import RUNNING, PodState, add_event
from podnet.core.naming import netns_name
from podnet.k8s.kubelet import containers
from podnet.kernel.context import KernelContext


def container_args(ctx: KernelContext, pod: PodState) -> list[str] | None:
    """What the Pod's container serves, as arguments of :mod:`podnet.k8s.images.server`."""
    args = ["--pod", pod.name, "--namespace", pod.namespace, "--node", pod.node or "", "--ip", pod.ip or ""]
    if pod.role == "dns":
        args += ["--dns", "--zone", ctx.paths.dns_zone]
        if ctx.state.external:
            args += ["--upstream", DNS_GOOGLE]
        return args
    if not pod.ports:
        return None
    for port in pod.ports:
        args += ["--echo", f"{port['containerPort']}/{port.get('protocol', 'TCP')}"]
    return args


def start_containers(ctx: KernelContext) -> list[str]:
    """Start the container of every Running Pod that should serve and does not; returns their names."""
    started = []
    for pod in ctx.state.pods.values():
        if pod.phase != RUNNING or containers.alive(pod.server_pid, pod.server_start):
            continue
        args = container_args(ctx, pod)
        if args is None:
            continue
        started.append((pod, containers.start(ctx.paths.root, netns_name(ctx.lab, pod.name), pod.name, args)))
    try:
        containers.wait_ready([s for _p, s in started])
    finally:
        for pod, item in started:
            pod.server_pid, pod.server_start = item.pid, item.start
    for pod, _item in started:
        add_event(pod.events, "Normal", "Started", "Started container app (podnet echo server on "
                  + ", ".join(f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in pod.ports) + ")", "kubelet")
    return [pod.name for pod, _ in started]
