"""A lab's first state, before anything exists in the kernel: registered nodes, placed Pods.

Mirrors the first seconds of a cluster: nodes register and get their podCIDRs
(:mod:`podnet.k8s.ipam.node_ipam`), the namespaces every cluster starts with exist, Pods named in the topology are created and bound
(:mod:`podnet.k8s.workloads.scheduler`), and the name of every namespace the lab may make is
written down first, so that teardown can always find what bring-up made. Pure.
"""

from __future__ import annotations

from podnet.core.layout import lab_namespaces
from podnet.core.model import LabState, PodState
from podnet.core.spec import ClusterSpec
from podnet.k8s.ipam.node_ipam import register_nodes
from podnet.k8s.workloads.namespaces import initial_namespaces
from podnet.k8s.workloads.scheduler import schedule


def initial_state(spec: ClusterSpec) -> LabState:
    state = LabState(spec=spec, namespaces=lab_namespaces(spec))
    state.nodes = register_nodes(spec)
    state.kube_namespaces = initial_namespaces()
    for pod in spec.pods:
        state.pods[pod.name] = PodState(name=pod.name, node=pod.node)
    schedule(state)
    return state
