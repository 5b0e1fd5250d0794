"""Orchestration: spec -> plan -> emulation -> CNI configs -> routes -> Pods -> Services, and back.

Mirrors the control loops that make a cluster's network: kube-controller-manager's node
IPAM (via :mod:`podnet.plan`), the CNI DaemonSet that writes each node's conflist, the route
controller of a host-gw CNI (flannel's), the kubelets that create Pod sandboxes and start
their containers, the Deployment controller (via :mod:`podnet.workloads.apply`), kube-proxy
and ip-masq-agent on every node, and CoreDNS's view of the Services.
Deviations: everything runs once per command instead of as watches; the state is a file.
Teardown deletes by identity: the namespaces listed in the state file (recorded *before*
they are made) and the processes found inside them, never anything found by name.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv4Network
from typing import Callable

from podnet import dockerbridge, external, netlink, netns, plan, reconcile, state as state_store, underlay
from podnet.cni.builtin import BuiltinBridge
from podnet.cni.config import INSTALL_CHOICES
from podnet.cni.config import BRIDGE_NAME, BUILTIN_TYPE, CONFLIST_NAME, VPC_TYPE, render_conflist, render_vpc_conflist
from podnet.cni.vpc import VpcPlugin, pod_range as vpc_pod_range
from podnet.cni.runtime import CniRuntime
from podnet.errors import InputError, KernelError, LabConflict
from podnet.kubelet import Kubelet, refresh_node_readiness
from podnet.model import RUNNING, LabState, add_event
from podnet.naming import INTERNET_NAME, UNDERLAY_NAME, netns_name
from podnet.routing import hostgw, neighbours, vxlan
from podnet.services import masq, proxier
from podnet.services.kube_proxy import SyncResult, sync_node
from podnet.workloads import addons, apply as workload_apply, containers
from podnet.workloads.manifests import WorkloadObject, parse_documents
from podnet.spec import FIRST_NODE_HOST, ROUTING_CHOICES, ClusterSpec

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


def _quiet(_stage: str, _done: int, _total: int) -> None:
    return None


class Lab:
    """A lab opened by this process: its state plus the kernel handles to act on it."""

    def __init__(self, lab_state: LabState, paths: state_store.LabPaths):
        self.state = lab_state
        self.paths = paths
        self.worker = netns.NetnsWorker()
        self.sockets = netlink.Sockets(self.worker)
        self.runtime = CniRuntime(in_process={
            BUILTIN_TYPE: BuiltinBridge(self.worker, self.sockets),
            VPC_TYPE: VpcPlugin(self.worker, self.sockets),
        })
        self.kubelet = Kubelet(lab_state, self.worker, self.sockets, self.runtime)

    @classmethod
    def open(cls, name: str) -> "Lab":
        lab = cls(state_store.load(name), state_store.LabPaths(name))
        lab._seen = lab._state_stamp()
        return lab

    def save(self) -> None:
        state_store.save(self.paths, self.state)
        self._seen = self._state_stamp()

    def _state_stamp(self) -> int | None:
        try:
            return os.stat(self.paths.state_file).st_mtime_ns
        except OSError:
            return None

    def refresh_if_changed(self) -> bool:
        """Another podnet command (apply, delete, cni install) saved the lab since this
        process last read or wrote it: load that state in place (the kubelet and the Mininet
        network keep their reference). Returns whether anything was loaded."""
        stamp = self._state_stamp()
        if stamp is None or stamp == getattr(self, "_seen", None):
            return False
        fresh = state_store.load(self.state.name)
        for item in dataclasses.fields(LabState):
            setattr(self.state, item.name, getattr(fresh, item.name))
        self._seen = stamp
        return True

    def close(self) -> None:
        self.sockets.close()
        self.worker.close()

    # -- CNI configuration (the CNI DaemonSet's job) -------------------------------------------

    def write_cni_configs(self, cni: str) -> None:
        spec = self.state.spec
        for node in self.state.nodes.values():
            directory = self.paths.cni_dir(node.name)
            path = os.path.join(directory, CONFLIST_NAME)
            if cni == "vpc":
                pool = vpc_pod_range(spec.underlay_cidr, len(self.state.nodes), FIRST_NODE_HOST)
                conflist = render_vpc_conflist(spec.underlay_cidr, str(pool.first), str(pool.last),
                                               os.path.join(self.paths.root, "ipam", "vpc"))
            elif node.pod_cidr is None:
                continue  # CIDRNotAvailable: no slice, so no config (flannel would not write one)
            else:
                conflist = render_conflist(cni, IPv4Network(node.pod_cidr), self.paths.ipam_dir(node.name),
                                           vxlan.pod_mtu(spec.routing))
            if conflist is None:
                if os.path.exists(path):
                    os.unlink(path)
                node.cni_config = None
                continue
            os.makedirs(directory, mode=0o700, exist_ok=True)
            tmp = path + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(conflist, handle, indent=2)
            os.replace(tmp, path)
            node.cni_config = path
            refresh_node_readiness(node)

    def install_cni(self, cni: str, progress: Progress = _quiet) -> None:
        """``podnet cni install``: write configs, then let the kubelets retry their Pods."""
        if cni not in INSTALL_CHOICES:
            raise InputError("cni", cni, "can install " + ", ".join(INSTALL_CHOICES))
        if cni == "vpc" and any(n.pod_cidr for n in self.state.nodes.values()):
            raise InputError("cni", cni, "VPC-native needs a lab started with --cni vpc (its nodes have podCIDRs)")
        if cni != "vpc" and self.state.spec.cni == "vpc":
            raise InputError("cni", cni, "this lab is VPC-native: its nodes have no podCIDR for a bridge")
        self.state.spec = dataclasses.replace(self.state.spec, cni=cni)
        self.write_cni_configs(cni)
        self.sync_routes()
        self.kubelet.sync(lambda d, t: progress("pods", d, t))
        self.settle()
        self.start_containers()
        self.sync_services()
        self.save()

    def _sync_vtep(self, node, ns: str, sock) -> None:
        """flannel.1 with its address and MAC, then its neighbour and forwarding tables."""
        index = netlink.ensure_vxlan(
            sock, ns, vxlan.DEVICE, vxlan.VNI, vxlan.PORT, node.internal_ip, hostgw.UNDERLAY_IFNAME,
            vxlan.vtep_mac(node), IPv4Interface(f"{vxlan.vtep_ip(node)}/32"), vxlan.POD_MTU,
        )
        links = netlink.links_by_name(sock)
        want = vxlan.desired_neighbours(self.state, node.name)
        have = {n for n in netlink.permanent_neighbours(sock, links) if n.dev == vxlan.DEVICE}
        if want != have:
            netlink.apply_neighbours(sock, ns, sorted(want - have), sorted(have - want), links)
        want_fdb = vxlan.desired_fdb(self.state, node.name)
        have_fdb = netlink.fdb_entries(sock, index)
        if want_fdb != have_fdb:
            netlink.apply_fdb(sock, ns, index, sorted(want_fdb - have_fdb), sorted(have_fdb - want_fdb))

    def note_unroutable(self) -> list[str]:
        """host-gw across segments: record on each node why some podCIDRs have no route."""
        reasons = []
        if self.state.spec.routing != "host-gw":
            return reasons
        for node in self.state.nodes.values():
            for reason in hostgw.unroutable(self.state, node.name):
                add_event(node.events, "Warning", "NextHopNotConnected", reason, "route-controller")
                reasons.append(f"{node.name}: {reason}")
        return reasons

    def switch_routing(self, routing: str, progress: Progress = _quiet) -> dict[str, int]:
        """Move a running lab between host-gw and vxlan: tunnels and routes, the CNI configs'
        MTU for new Pods, and the MTU of every running Pod's interfaces (flannel would need
        the Pods restarted; podnet changes them in place). Returns counts of what changed."""
        if routing not in ROUTING_CHOICES:
            raise InputError("routing", routing, "must be one of " + ", ".join(ROUTING_CHOICES))
        if self.state.spec.model == "docker":
            raise InputError("routing", routing, "a Docker-model lab has no Pod network to route")
        if self.state.spec.cni == "vpc" and routing != "host-gw":
            raise InputError("routing", routing, "a VPC-native lab (--cni vpc) takes no overlay: its Pods live on the node subnet itself")
        self.state.spec = dataclasses.replace(self.state.spec, routing=routing)
        mtu = vxlan.pod_mtu(routing)
        if self.state.spec.cni != "none":
            self.write_cni_configs(self.state.spec.cni)
        changed = self.set_pod_mtu(mtu)
        progress("mtu", 1, 1)
        diffs, _ = self.sync_routes()
        self.note_unroutable()
        progress("routes", 1, 1)
        self.save()
        return {"interfaces": changed, "routesAdded": sum(len(d.add) for d in diffs.values()),
                "routesRemoved": sum(len(d.delete) for d in diffs.values())}

    def set_pod_mtu(self, mtu: int) -> int:
        """Pods' eth0, their host-side veths and the node bridges, all to ``mtu``."""
        lab = self.state.name
        changed = 0
        for pod in self.state.pods.values():
            if pod.phase != RUNNING or not pod.node:
                continue
            pod_ns, node_ns = netns_name(lab, pod.name), netns_name(lab, pod.node)
            changed += netlink.set_mtu(self.sockets(pod_ns), pod_ns, "eth0", mtu)
            if pod.host_veth:
                changed += netlink.set_mtu(self.sockets(node_ns), node_ns, pod.host_veth, mtu)
        for node in self.state.nodes.values():
            ns = netns_name(lab, node.name)
            changed += netlink.set_mtu(self.sockets(ns), ns, BRIDGE_NAME, mtu)
        return changed

    # -- after the kubelets: bridges and neighbours ----------------------------------------------

    def settle(self) -> None:
        """Pin every node bridge's MAC, then (for big labs) write static neighbours."""
        bridge = dockerbridge.DOCKER_BRIDGE if self.state.spec.model == "docker" else BRIDGE_NAME
        for node in self.state.nodes.values():
            ns = netns_name(self.state.name, node.name)
            netlink.pin_mac(self.sockets(ns), ns, bridge)
        if self.state.static_arp:
            self.sync_neighbours()

    def sync_neighbours(self, only_add: bool = False) -> list[tuple[str, "neighbours.Neighbour"]]:
        """Make every namespace's permanent neighbour entries match :func:`neighbours.desired`
        (with ``only_add``, leave other entries alone); returns the entries written."""
        lab = self.state.name
        names = list(self.state.nodes) + [p.name for p in self.state.pods.values() if p.phase == RUNNING]
        links = {name: netlink.links_by_name(self.sockets(netns_name(lab, name))) for name in names}
        macs = {(name, ifname): mac for name, table in links.items() for ifname, (_i, mac) in table.items() if mac}
        ours = [self.state.spec.cluster_cidr, self.state.spec.underlay_cidr]
        written = []
        for name, entries in neighbours.desired(self.state, macs).items():
            ns = netns_name(lab, name)
            sock = self.sockets(ns)
            actual = netlink.permanent_neighbours(sock, links[name])
            stale = set() if only_add else {e for e in actual - entries if any(e.ip in net for net in ours)}
            fresh = sorted(entries - actual)
            if fresh or stale:
                netlink.apply_neighbours(sock, ns, fresh, sorted(stale), links[name])
                written += [(name, e) for e in fresh]
        return written

    # -- routes (the CNI's route controller, host-gw) ------------------------------------------

    def sync_routes(self, strict: bool = True) -> tuple[dict[str, reconcile.RouteDiff], list[str]]:
        """One pass of the route controller over every node: (diffs applied, problems).

        With ``strict`` the first problem raises (bring-up); otherwise problems are collected
        and the other nodes are still reconciled (the periodic check in the CLI).
        """
        diffs, problems = {}, []
        overlay = self.state.spec.routing == "vxlan"
        for node in self.state.nodes.values():
            ns = netns_name(self.state.name, node.name)
            sock = self.sockets(ns)
            if overlay and node.pod_cidr:
                try:
                    self._sync_vtep(node, ns, sock)
                except KernelError as exc:
                    if strict:
                        raise
                    problems.append(str(exc))
                    continue
                desired = vxlan.desired_routes(self.state, node.name)
                diff = reconcile.diff_routes(desired, netlink.owned_routes(sock))
            else:
                desired = hostgw.desired_routes(self.state, node.name)
                diff = reconcile.diff_routes(desired, netlink.owned_routes(sock))
                # host-gw has no tunnel: removing it takes its routes along (counted in diff.delete,
                # their own deletion below then finds them gone, which is fine).
                netlink.delete_link(sock, ns, vxlan.DEVICE)
            if not diff.empty:
                try:
                    netlink.apply_routes(sock, ns, diff.add, diff.delete)
                except KernelError as exc:
                    if strict:
                        raise
                    problems.append(str(exc))
                    continue
            diffs[node.name] = diff
        return diffs, problems


    # -- workloads: apply, delete, containers (the API server, controllers and kubelet) ------------

    def apply(self, objects: list[WorkloadObject], progress: Progress = _quiet) -> workload_apply.ApplyResult:
        """``kubectl apply``: everything is validated first; then the kernel follows."""
        new, result = workload_apply.apply_objects(self.state, objects)
        self._converge(new, result, progress)
        return result

    def delete(self, kind: str, names: list[str], namespace: str, progress: Progress = _quiet) -> workload_apply.ApplyResult:
        new, result = workload_apply.delete_objects(self.state, kind, names, namespace)
        self._converge(new, result, progress)
        return result

    def delete_listed(self, objects: list[WorkloadObject], progress: Progress = _quiet) -> workload_apply.ApplyResult:
        new, result = workload_apply.delete_listed(self.state, objects)
        self._converge(new, result, progress)
        return result

    def _converge(self, new: LabState, result: workload_apply.ApplyResult, progress: Progress) -> None:
        """Make the kernel follow a new state. Ctrl-C and termination wait until it is done
        (a second or two for a big Deployment): a sandbox half made, or a lease taken but not
        recorded, would outlive an interrupted command."""
        with held_stop_signals():
            self._converge_now(new, result, progress)

    def _converge_now(self, new: LabState, result: workload_apply.ApplyResult, progress: Progress) -> None:
        from podnet.services.kube_proxy import clear_udp_conntrack, udp_targets

        old_endpoints, old_cluster_ips = udp_targets(self.state)
        for pod in result.removed_pods:
            self.remove_pod(pod)
        self.state.pods, self.state.deployments, self.state.services = new.pods, new.deployments, new.services
        lab = self.state.name
        for name in result.created_pods:
            ns = netns_name(lab, name)
            if ns not in self.state.namespaces:
                self.state.namespaces.append(ns)
        self.save()  # the new namespaces are on record before they exist
        self.kubelet.sync(lambda d, t: progress("pods", d, t))
        self.start_containers()
        if self.state.static_arp:
            self.sync_neighbours(only_add=True)
        self.sync_services()
        new_endpoints, new_cluster_ips = udp_targets(self.state)
        gone_endpoints, gone_cluster_ips = old_endpoints - new_endpoints, old_cluster_ips - new_cluster_ips
        if gone_endpoints or gone_cluster_ips:
            for node in self.state.nodes.values():
                clear_udp_conntrack(self.worker, netns_name(lab, node.name), gone_endpoints, gone_cluster_ips)
        self.save()

    def remove_pod(self, pod) -> None:
        """The kubelet's side of a Pod deletion: stop the container, CNI DEL (which gives the
        address back to IPAM), remove the sandbox namespace."""
        from podnet.cni.runtime import Sandbox, load_conflist

        containers.stop(pod.server_pid, pod.server_start)
        lab = self.state.name
        ns = netns_name(lab, pod.name)
        node = self.state.nodes.get(pod.node) if pod.node else None
        if node is not None and pod.sandbox_id and netns.exists(ns):
            conflist = load_conflist(node.cni_config)
            if conflist is not None:
                sandbox = Sandbox(pod.sandbox_id, pod.name, netns_name(lab, node.name), ns)
                for problem in self.runtime.delete(conflist, sandbox):
                    log.warning("CNI DEL of %s: %s", pod.name, problem)
        self.sockets.forget(ns)
        netns.delete(ns)
        if ns in self.state.namespaces:
            self.state.namespaces.remove(ns)

    def container_args(self, pod) -> list[str] | None:
        """What the Pod's container serves, as arguments of :mod:`podnet.workloads.server`."""
        args = ["--pod", pod.name, "--namespace", pod.namespace, "--node", pod.node or "", "--ip", pod.ip or ""]
        if pod.role == "dns":
            args += ["--dns", "--zone", self.dns_zone_path]
            if self.state.external:
                args += ["--upstream", external.DNS_GOOGLE]
            return args
        if not pod.ports:
            return None
        for port in pod.ports:
            args += ["--echo", f"{port['containerPort']}/{port.get('protocol', 'TCP')}"]
        return args

    def start_containers(self) -> list[str]:
        """Start the container of every Running Pod that should serve and does not."""
        started = []  # CoreDNS's records follow in sync_services, which every caller runs next
        for pod in self.state.pods.values():
            if pod.phase != RUNNING or containers.alive(pod.server_pid, pod.server_start):
                continue
            args = self.container_args(pod)
            if args is None:
                continue
            started.append((pod, containers.start(self.paths.root, netns_name(self.state.name, pod.name), pod.name, args)))
        try:
            containers.wait_ready([s for _p, s in started])
        finally:
            for pod, item in started:
                pod.server_pid, pod.server_start = item.pid, item.start
        for pod, _item in started:
            add_event(pod.events, "Normal", "Started", "Started container app (podnet echo server on "
                      + ", ".join(f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in pod.ports) + ")", "kubelet")
        return [pod.name for pod, _ in started]

    def start_internet(self) -> None:
        ns = netns_name(self.state.name, INTERNET_NAME)
        containers.wait_ready([containers.start(self.paths.root, ns, INTERNET_NAME, external.server_args())])

    # -- Services: kube-proxy and ip-masq-agent on every node, CoreDNS's records ----------------

    @property
    def dns_zone_path(self) -> str:
        return os.path.join(self.paths.root, "dns", "zone.json")

    def resolv_conf_path(self, namespace: str) -> str:
        return os.path.join(self.paths.root, "dns", f"resolv.{namespace}.conf")

    def write_dns(self) -> None:
        """CoreDNS's records and each namespace's resolv.conf, replaced atomically."""
        if self.state.spec.model == "docker":
            return
        directory = os.path.join(self.paths.root, "dns")
        os.makedirs(directory, mode=0o755, exist_ok=True)
        files = {self.dns_zone_path: json.dumps(addons.zone(self.state), indent=1)}
        for namespace in {p.namespace for p in self.state.pods.values()} | {"default"}:
            files[self.resolv_conf_path(namespace)] = addons.resolv_conf(self.state, namespace)
        for path, text in files.items():
            tmp = path + ".tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)

    def sync_services(self) -> list[SyncResult]:
        """kube-proxy's and ip-masq-agent's rules on every node, then CoreDNS's records."""
        if self.state.spec.model == "docker":
            return []
        rules = proxier.render(self.state)
        masq_rules = masq.rules(self.state.spec.cluster_cidr) if self.state.spec.ip_masq_agent else None
        # every node's kube-proxy works on its own: run the iptables-save/restore pairs side by side
        from concurrent.futures import ThreadPoolExecutor

        nodes = list(self.state.nodes.values())
        with ThreadPoolExecutor(max_workers=min(4, max(len(nodes), 1))) as pool:
            results = list(pool.map(
                lambda node: sync_node(node.name, netns_name(self.state.name, node.name), rules, masq_rules), nodes))
        self.write_dns()
        return results


def up(spec: ClusterSpec, progress: Progress = _quiet, detached: bool = False) -> Lab:
    """Bring a lab up and return it open, or tear down whatever it made and re-raise.

    The name is claimed (atomically) before anything is made; a refusal (LabConflict) has
    touched nothing, and everything after the claim is undone on any exception or
    interrupt, so callers never tear down a name they may not own.
    """
    lab_state = plan.initial_state(spec)
    taken = [ns for ns in lab_state.namespaces if netns.exists(ns)]
    if taken:
        raise LabConflict(
            f"network namespace {taken[0]} already exists and was not made by lab {spec.name!r}: "
            "pick another --name (podnet never deletes what it did not create)"
        )
    lab_state.owner_pid = os.getpid()
    lab_state.owner_start = netns.process_start_time(os.getpid())
    lab_state.detached = detached
    paths = state_store.claim(spec.name, lab_state)  # the intent (every namespace name) is on disk first
    lab = None
    try:
        lab = Lab(lab_state, paths)
        underlay.build(lab_state, lab.worker, lab.sockets, lambda d, t: progress("nodes", d, t))
        external.build(lab_state, lab.worker, lab.sockets)
        lab.start_internet()
        if spec.model == "docker":
            dockerbridge.build(lab, lambda d, t: progress("containers", d, t))
            lab.settle()
            lab_state.status = "running"
            lab.save()
            return lab
        lab.write_cni_configs(spec.cni)
        for node in lab_state.nodes.values():
            refresh_node_readiness(node)
        lab.sync_routes()
        lab.note_unroutable()
        progress("routes", 1, 1)
        lab.kubelet.sync(lambda d, t: progress("pods", d, t))
        lab_state.static_arp = spec.static_arp == "on"
        lab.settle()
        objects = addons.dns_objects(lab_state) if spec.cluster_dns else []
        objects += parse_documents(list(spec.workloads), "workloads") if spec.workloads else []
        if objects:
            lab.apply(objects, progress)
        else:
            lab.sync_services()
        lab_state.status = "running"
        lab.save()
    except BaseException:
        block_stop_signals()  # finish the teardown even if the user presses Ctrl-C again
        try:
            if lab is not None:
                lab.close()
            teardown(spec.name)
        finally:
            unblock_stop_signals()
        raise
    return lab


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def block_stop_signals() -> None:
    """Hold Ctrl-C and termination back while a teardown runs (they act after it)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def unblock_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


class held_stop_signals:  # noqa: N801 - used as a context manager
    """Ctrl-C and termination are noted, not acted on, until the block ends; then the first
    one is raised again as if it had just arrived. (Masking alone is not enough: the kernel
    would hand the signal to one of the lab's worker threads, and Python would still raise
    it in the main thread at once.)"""

    def __enter__(self) -> "held_stop_signals":
        import threading

        self.pending: list[int] = []
        self.previous: dict = {}
        if threading.current_thread() is threading.main_thread():
            for sig in _STOP_SIGNALS:
                self.previous[sig] = signal.signal(sig, lambda number, _frame: self.pending.append(number))
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        if self.pending:
            signal.raise_signal(self.pending[0])


@dataclass
class TeardownReport:
    lab: str
    deleted: list[str] = field(default_factory=list)
    already_gone: list[str] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)
    state_removed: bool = False

    def to_json(self) -> dict:
        return {
            "lab": self.lab, "deletedNamespaces": self.deleted,
            "alreadyGone": self.already_gone, "killedPids": self.killed,
            "stateRemoved": self.state_removed,
        }


def teardown(name: str, namespaces: list[str] | None = None) -> TeardownReport:
    """Delete what lab ``name`` recorded: processes in its namespaces, the namespaces, its files.

    Idempotent and best effort: what is already gone is reported, not an error.
    """
    report = TeardownReport(name)
    raw = state_store.load_raw(name)
    if namespaces is None:
        namespaces = list(raw.get("namespaces", [])) if raw else []
    expected = _namespaces_that_should_exist(name, raw)
    inodes = {}
    for ns in namespaces:
        ino = netns.inode(ns)
        if ino is not None:
            inodes[ino] = ns
    report.killed = _kill_processes(set(inodes))
    for ns in namespaces:
        if netns.delete(ns):
            report.deleted.append(ns)
        elif ns in expected:
            report.already_gone.append(ns)  # made by the lab, removed by someone else
    report.state_removed = state_store.remove(state_store.LabPaths(name))
    return report


def _namespaces_that_should_exist(name: str, raw: dict | None) -> set[str]:
    """Namespaces the saved state says exist (not the whole intent list: a Pending Pod never
    had one)."""
    if not raw or raw.get("status") == "starting":
        return set()
    names = {netns_name(name, UNDERLAY_NAME)}
    names.update(netns_name(name, n["name"]) for n in raw.get("nodes", []))
    names.update(netns_name(name, p["name"]) for p in raw.get("pods", []) if p.get("phase") == "Running")
    return names


def _kill_processes(inodes: set[int], grace: float = 1.0) -> list[int]:
    pids = sorted(netns.pids_in(inodes))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        alive = netns.pids_in(inodes)
        if not alive:
            break
        time.sleep(0.02)
    for pid in netns.pids_in(inodes):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


CLAIM_GRACE = 30.0  # seconds a lab directory may exist without its state file


def stale_labs() -> list[str]:
    """Labs whose owner died without tearing down: a foreground lab whose process is gone, or a
    bring-up that never finished."""
    stale = []
    for name in state_store.list_labs():
        raw = state_store.load_raw(name)
        if raw is None:
            # No state yet: a lab being claimed this instant, or one that died right then.
            if state_store.age(name) > CLAIM_GRACE:
                stale.append(name)
            continue
        if raw.get("status") == "running" and raw.get("detached"):
            continue
        if not netns.is_same_process(raw.get("ownerPid"), raw.get("ownerStart")):
            stale.append(name)
    return stale
