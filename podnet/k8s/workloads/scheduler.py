"""Binding Pods to nodes.

Mirrors kube-scheduler for the one question a networking lab asks of it: which node may take
this Pod? Only nodes with a podCIDR (no ``network-unavailable`` taint) and room under
``maxPods`` are feasible; among them the one with the fewest Pods wins, ties going to node
order. An unplaceable Pod gets the ``FailedScheduling`` event. Deviation: no other
predicates or priorities; Pods with ``spec.nodeName`` are never moved. Pure.
"""

from __future__ import annotations

from podnet.core.model import LabState, add_event


def schedule(state: LabState) -> None:
    """Bind unbound Pods to the node with the fewest Pods among those that have a podCIDR."""
    load = {name: 0 for name in state.nodes}
    for pod in state.pods.values():
        if pod.node is not None:
            load[pod.node] += 1
    candidates = [n for n in state.nodes.values() if n.pod_cidr is not None]
    for pod in state.pods.values():
        if pod.node is not None:
            continue
        fitting = [n for n in candidates if load[n.name] < state.spec.max_pods]
        if not fitting:
            add_event(
                pod.events, "Warning", "FailedScheduling",
                f"0/{len(state.nodes)} nodes are available: no node has a podCIDR and room for another Pod",
                "default-scheduler",
            )
            continue
        target = min(fitting, key=lambda n: (load[n.name], n.index))
        pod.node = target.name
        load[target.name] += 1
        add_event(pod.events, "Normal", "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {target.name}",
                  "default-scheduler")
