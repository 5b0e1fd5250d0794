"""Pod sandboxes on a node: network readiness, CNI ADD/DEL, phases and events.

Mirrors the kubelet with containerd's CRI plugin: a node whose runtime finds no CNI config
is NotReady ("container runtime network not ready: NetworkReady=false
reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not
initialized") and its Pods stay Pending; with a config, each Pod gets a sandbox network
namespace and a CNI ADD; a failed ADD is followed by DEL, the sandbox is removed, and the Pod
stays ContainerCreating with a FailedCreatePodSandBox event carrying the plugin's message.
Deviations: no containers or images (a Pod is its sandbox), no retry back-off timer (a sync
is triggered by ``up``, ``cni install`` or a later command), and the maxPods check that the
scheduler does upstream is made here.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from typing import Callable

from podnet.kernel import netlink, netns
from podnet.kernel.netlink import Sockets
from podnet.k8s.cni.config import BUILTIN_TYPE
from podnet.k8s.cni.runtime import CniRuntime, Sandbox, load_conflist, result_summary
from podnet.core.errors import CniError, KernelError
from podnet.core.model import CONTAINER_CREATING, PENDING, RUNNING, LabState, NodeState, PodState, add_event
from podnet.core.naming import netns_name, new_sandbox_id

log = logging.getLogger(__name__)

# How many sandbox namespaces the worker may create ahead of the CNI ADD in progress.
PREFETCH = 16

NOT_INITIALIZED = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized"
)


def refresh_node_readiness(node: NodeState) -> None:
    """Ready follows the presence of a loadable CNI config, as containerd reports it."""
    if node.network_unavailable:
        ready, message = False, f"node has no podCIDR ({node.network_unavailable})"
    elif load_conflist(node.cni_config) is None:
        ready, message = False, NOT_INITIALIZED
    else:
        ready, message = True, "kubelet is posting ready status"
    if ready != node.ready:
        reason = "NodeReady" if ready else "NodeNotReady"
        add_event(node.events, "Normal", reason, f"Node {node.name} status is now: {reason}", "kubelet")
    node.ready = ready
    node.ready_reason = "KubeletReady" if ready else "KubeletNotReady"
    node.ready_message = message


class Kubelet:
    def __init__(self, state: LabState, worker: netns.NetnsWorker, sockets: netlink.Sockets, runtime: CniRuntime):
        self.state = state
        self.worker = worker
        self.sockets = sockets
        self.runtime = runtime

    def sync(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Bring every Pod as far as its node allows; Running Pods are left alone.

        Sandbox namespaces are created a few Pods ahead on the namespace worker while this
        thread runs CNI ADD for the current Pod.
        """
        for node in self.state.nodes.values():
            refresh_node_readiness(node)
        todo = [p for p in self.state.pods.values() if p.phase != RUNNING]
        bound = {name: 0 for name in self.state.nodes}
        for pod in self.state.pods.values():
            if pod.phase == RUNNING and pod.node:
                bound[pod.node] += 1
        admitted = [pod for pod in todo if self.admit(pod, bound)]
        lab = self.state.name
        for pod in admitted:
            ns = netns_name(lab, pod.name)
            if ns not in self.state.namespaces:
                self.state.namespaces.append(ns)
        ahead: dict[str, Future] = {}
        openers = {name: _sandbox_opener(node) for name, node in self.state.nodes.items()}
        for done, pod in enumerate(admitted, start=1):
            for upcoming in admitted[done - 1:done - 1 + PREFETCH]:
                if upcoming.name not in ahead:
                    ahead[upcoming.name] = self.worker.create_soon(netns_name(lab, upcoming.name), openers[upcoming.node])
            self.run_sandbox(pod, self.state.nodes[pod.node], ahead.pop(pod.name))
            if progress:
                progress(done, len(admitted))

    def admit(self, pod: PodState, bound: dict[str, int]) -> bool:
        """May this Pod get a sandbox now? If not, say why (Pending). A Pod admitted counts
        against its node's maxPods whether or not its sandbox then comes up, as in Kubernetes."""
        if pod.node is None:
            pod.phase = PENDING
            return False
        node = self.state.nodes[pod.node]
        max_pods = self.state.spec.max_pods
        if node.network_unavailable:
            why = (f"node {node.name} has no podCIDR ({node.network_unavailable})", "FailedScheduling",
                   "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/network-unavailable: } "
                   f"({node.name} has no podCIDR: {node.network_unavailable})", "default-scheduler")
        elif not node.ready:
            why = (node.ready_message, "NetworkNotReady", f"network is not ready: {node.ready_message}", "kubelet")
        elif bound[node.name] >= max_pods:
            why = (f"node {node.name} already has maxPods={max_pods} Pods", "FailedScheduling",
                   f"0/1 nodes are available: 1 Too many pods ({node.name} maxPods {max_pods})", "default-scheduler")
        else:
            why = None
        if why is not None:
            pod.phase = PENDING
            pod.message, reason, event_message, source = why
            add_event(pod.events, "Warning", reason, event_message, source)
            return False
        bound[node.name] += 1
        return True

    def run_sandbox(self, pod: PodState, node: NodeState, namespace: Future) -> bool:
        """CNI ADD for a Pod whose sandbox namespace is being made by ``namespace``."""
        conflist = load_conflist(node.cni_config)
        assert conflist is not None
        lab = self.state.name
        sandbox = Sandbox(new_sandbox_id(), pod.name, netns_name(lab, node.name), netns_name(lab, pod.name))
        try:
            self.sockets.adopt(sandbox.pod_ns, namespace.result())
            result = self.runtime.add(conflist, sandbox)
        except (CniError, KernelError) as exc:
            self._undo(conflist, sandbox)
            pod.phase = CONTAINER_CREATING
            pod.ip = pod.sandbox_id = pod.host_veth = None
            where = (f"node {node.name}, podCIDR {node.pod_cidr}" if node.pod_cidr
                     else f"node {node.name}, VPC subnet {self.state.spec.underlay_cidr}")
            pod.message = f"{exc} ({where})"
            add_event(
                pod.events, "Warning", "FailedCreatePodSandBox",
                "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network "
                f"for sandbox \"{sandbox.container_id[:12]}\": {exc} ({where})",
                "kubelet",
            )
            return False
        ip, _gateway, host_veth = result_summary(result)
        pod.phase = RUNNING
        pod.ip = ip
        pod.sandbox_id = sandbox.container_id
        pod.host_veth = host_veth
        pod.message = ""
        pod.started = time.time()
        add_event(pod.events, "Normal", "SandboxCreated",
                  f"Pod sandbox {sandbox.container_id[:12]} has IP {ip} from {node.pod_cidr} on {node.name}", "kubelet")
        add_event(pod.events, "Normal", "Started", "Started container app", "kubelet")
        return True

    def _undo(self, conflist: dict, sandbox: Sandbox) -> None:
        """A failed ADD is followed by DEL, then the sandbox goes: nothing half-made stays."""
        problems = self.runtime.delete(conflist, sandbox) if netns.exists(sandbox.pod_ns) else []
        for problem in problems:
            log.warning("cleanup after failed ADD of %s: %s", sandbox.pod, problem)
        self.sockets.forget(sandbox.pod_ns)
        netns.delete(sandbox.pod_ns)


def _sandbox_opener(node: NodeState) -> Callable[[], netlink.IPRoute]:
    """What a new sandbox namespace runs first: the builtin plugin silences IPv6 on the
    interface it makes (no ``/proc/sys`` write, which costs more with every namespace);
    other plugins make interfaces podnet cannot reach first, so IPv6 is off namespace-wide."""
    conflist = load_conflist(node.cni_config) or {}
    types = {plugin.get("type") for plugin in conflist.get("plugins", []) if isinstance(plugin, dict)}
    return netlink.open_and_raise_lo_only if BUILTIN_TYPE in types else netlink.open_and_raise_lo


def remove_sandbox(state: LabState, runtime: CniRuntime, sockets: Sockets, pod: PodState) -> None:
    """The kubelet's side of a Pod deletion, once its container is stopped: CNI DEL (which
    gives the address back to IPAM), then the sandbox namespace goes."""
    ns = netns_name(state.name, pod.name)
    node = state.nodes.get(pod.node) if pod.node else None
    if node is not None and pod.sandbox_id and netns.exists(ns):
        conflist = load_conflist(node.cni_config)
        if conflist is not None:
            sandbox = Sandbox(pod.sandbox_id, pod.name, netns_name(state.name, node.name), ns)
            for problem in runtime.delete(conflist, sandbox):
                log.warning("CNI DEL of %s: %s", pod.name, problem)
    sockets.forget(ns)
    netns.delete(ns)
    if ns in state.namespaces:
        state.namespaces.remove(ns)

