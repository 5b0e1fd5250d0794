"""A lab opened by this process: its state, its kernel handles, and its components.

Mirrors a cluster's control loop from the outside: every operation changes the cluster model
first (validated completely, on a copy), then tells the components what changed
(:mod:`podnet.lab.components`), which make the kernel follow; the state file is saved after.
Ctrl-C and termination wait until the kernel has followed (a second or two for a big
Deployment), so an interrupted command never leaves half a sandbox behind.
Deviation: the loop runs once per command, not as a watch; another podnet command's changes
are picked up with :meth:`Lab.refresh_if_changed` (the interactive CLI does so per line).
"""

from __future__ import annotations

import copy
import dataclasses
import os

from podnet.core.change import CNI, PODS, POLICIES, RESYNC, ROUTING, SERVICES, Change, Progress, quiet
from podnet.core.errors import InputError
from podnet.core.model import LabState
from podnet.core.netobjects import Neighbour
from podnet.core.spec import ROUTING_CHOICES
from podnet.k8s.cni.config import INSTALL_CHOICES
from podnet.k8s.kube_proxy.agent import sync_services
from podnet.k8s.kube_proxy.sync import SyncResult
from podnet.k8s.routing.controller import sync_routes
from podnet.k8s.routing.diff import RouteDiff
from podnet.k8s.routing.static_arp import sync_neighbours
from podnet.k8s.workloads import apply as api
from podnet.k8s.workloads import labels
from podnet.k8s.workloads.manifests import WorkloadObject
from podnet.kernel import limits, netlink, netns, state_file
from podnet.kernel.context import KernelContext
from podnet.lab import components
from podnet.lab.signals import held_stop_signals


# The parts of the state the API's objects live in: an operation replaces them all.
API_TABLES = ("pods", "deployments", "services", "kube_namespaces", "policies")


class Lab:
    def __init__(self, lab_state: LabState, paths: state_file.LabPaths):
        limits.ensure_open_files(limits.descriptors_for(len(lab_state.namespaces) + len(lab_state.pods)))
        worker = netns.NetnsWorker()
        self.ctx = KernelContext(lab_state, paths, worker, netlink.Sockets(worker), self.save)
        self.components = components.for_model(lab_state.spec.model)
        self._seen: int | None = None

    # -- the handles probes and views use ------------------------------------------------------
    @property
    def state(self) -> LabState:
        return self.ctx.state

    @property
    def paths(self) -> state_file.LabPaths:
        return self.ctx.paths

    @property
    def worker(self) -> netns.NetnsWorker:
        return self.ctx.worker

    @property
    def sockets(self) -> netlink.Sockets:
        return self.ctx.sockets

    @property
    def runtime(self):
        """The CNI runtime the kubelets run plugins with (what containerd would be)."""
        kubelet = next(c for c in self.components if c.name == "kubelet")
        return kubelet.runtime(self.ctx)

    # -- life of the handle --------------------------------------------------------------------
    @classmethod
    def open(cls, name: str) -> "Lab":
        lab = cls(state_file.load(name), state_file.LabPaths(name))
        lab._seen = lab._state_stamp()
        return lab

    def lock(self) -> state_file.LabLock:
        return state_file.LabLock(self.paths)

    def save(self) -> None:
        state_file.save(self.paths, self.state)
        self._seen = self._state_stamp()

    def _state_stamp(self) -> int | None:
        try:
            return os.stat(self.paths.state_file).st_mtime_ns
        except OSError:
            return None

    def refresh_if_changed(self) -> bool:
        """Another podnet command saved the lab since this process last read or wrote it: load
        that state in place (the components and the Mininet network keep their reference)."""
        stamp = self._state_stamp()
        if stamp is None or stamp == self._seen:
            return False
        fresh = state_file.load(self.state.name)
        for item in dataclasses.fields(LabState):
            setattr(self.state, item.name, getattr(fresh, item.name))
        self._seen = stamp
        return True

    def close(self) -> None:
        self.sockets.close()
        self.worker.close()

    # -- the one loop --------------------------------------------------------------------------
    def reconcile(self, change: Change, progress: Progress = quiet, hold_signals: bool = True) -> dict[str, object]:
        """Tell the components what changed; the kernel follows; the state is saved.

        A running lab holds Ctrl-C until the kernel has followed; a bring-up does not
        (``hold_signals=False``): interrupted, it removes everything it made anyway."""
        limits.ensure_open_files(limits.descriptors_for(len(self.state.namespaces) + len(self.state.pods)))
        if not hold_signals:
            reports = components.reconcile(self.components, self.ctx, change, progress)
            self.save()
            return reports
        with held_stop_signals():
            reports = components.reconcile(self.components, self.ctx, change, progress)
            self.save()
        return reports

    # -- operations: change the model, then reconcile -------------------------------------------
    def apply(self, objects: list[WorkloadObject], progress: Progress = quiet) -> api.ApplyResult:
        """``kubectl apply``: everything is validated first; then the kernel follows."""
        return self._commit(*api.apply_objects(self.state, objects), progress)

    def delete(self, kind: str, names: list[str], namespace: str, progress: Progress = quiet) -> api.ApplyResult:
        return self._commit(*api.delete_objects(self.state, kind, names, namespace), progress)

    def delete_listed(self, objects: list[WorkloadObject], progress: Progress = quiet) -> api.ApplyResult:
        return self._commit(*api.delete_listed(self.state, objects), progress)

    def label(self, kind: str, name: str, namespace: str, sets: dict[str, str], removes: list[str],
              overwrite: bool = False, progress: Progress = quiet) -> api.ApplyResult:
        """``kubectl label``: what the labels select (endpoints, policies) follows."""
        return self._commit(*labels.label(self.state, kind, name, namespace, sets, removes, overwrite), progress)

    def _commit(self, new: LabState, result: api.ApplyResult, progress: Progress) -> api.ApplyResult:
        before = copy.copy(self.state)  # the old object dicts: new ones replace them below
        for table in API_TABLES:
            setattr(self.state, table, getattr(new, table))
        self.reconcile(Change.of(PODS, SERVICES, POLICIES, before=before, removed_pods=list(result.removed_pods)),
                       progress)
        return result

    def install_cni(self, cni: str, progress: Progress = quiet) -> None:
        """``podnet cni install``: write configs, then let the kubelets retry their Pods."""
        if cni not in INSTALL_CHOICES:
            raise InputError("cni", cni, "can install " + ", ".join(INSTALL_CHOICES))
        if cni == "vpc" and any(n.pod_cidr for n in self.state.nodes.values()):
            raise InputError("cni", cni, "VPC-native needs a lab started with --cni vpc (its nodes have podCIDRs)")
        if cni != "vpc" and self.state.spec.cni == "vpc":
            raise InputError("cni", cni, "this lab is VPC-native: its nodes have no podCIDR for a bridge")
        self.state.spec = dataclasses.replace(self.state.spec, cni=cni)
        self.reconcile(Change.of(CNI), progress)

    def switch_routing(self, routing: str, progress: Progress = quiet) -> dict[str, int]:
        """Move a running lab between host-gw and vxlan; returns counts of what changed."""
        if routing not in ROUTING_CHOICES:
            raise InputError("routing", routing, "must be one of " + ", ".join(ROUTING_CHOICES))
        if self.state.spec.model == "docker":
            raise InputError("routing", routing, "a Docker-model lab has no Pod network to route")
        if self.state.spec.cni == "vpc" and routing != "host-gw":
            raise InputError("routing", routing,
                             "a VPC-native lab (--cni vpc) takes no overlay: its Pods live on the node subnet itself")
        self.state.spec = dataclasses.replace(self.state.spec, routing=routing)
        routes = self.reconcile(Change.of(ROUTING), progress)["route-controller"]
        return {"interfaces": routes.interfaces_resized, "routesAdded": routes.added, "routesRemoved": routes.removed}

    def sync(self, progress: Progress = quiet) -> dict[str, object]:
        """``podnet sync``: every component repairs drift; problems are collected, not raised."""
        return self.reconcile(Change.of(RESYNC, strict=False), progress)

    # -- single components, for the CLI's periodic checks and the matrix ------------------------
    def sync_routes(self, strict: bool = True) -> tuple[dict[str, RouteDiff], list[str]]:
        return sync_routes(self.ctx, strict)

    def sync_services(self) -> list[SyncResult]:
        return sync_services(self.ctx)

    def prefill_neighbours(self) -> list[tuple[str, Neighbour]]:
        """Permanent neighbour entries for a full mesh (kept: the lab now uses static ARP)."""
        written = sync_neighbours(self.ctx, only_add=True)
        self.state.static_arp = True
        return written
