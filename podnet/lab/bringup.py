"""Bringing a lab up: validate, claim the name, build the machines, reconcile everything once.

Mirrors a cluster's first minutes in one pass: nodes register and get podCIDRs, the add-ons
(CoreDNS) and the topology's workloads are created through the API (validated completely
before anything exists), the infrastructure is built, and every component reconciles the
whole model once. The name is claimed atomically before anything is made: a refusal
(``LabConflict``) has touched nothing, and everything made after the claim is removed again on
any exception or interrupt (Ctrl-C during that cleanup waits for it).
"""

from __future__ import annotations

import os

from podnet.core.change import LAB, Change, Progress, quiet
from podnet.core.errors import LabConflict
from podnet.core.spec import ClusterSpec
from podnet.k8s.dns import addons
from podnet.k8s.workloads import apply as api
from podnet.k8s.workloads.manifests import check_against_spec, parse_documents
from podnet.kernel import netns, state_file
from podnet.lab import components
from podnet.lab.initial import initial_state
from podnet.lab.session import Lab
from podnet.lab.signals import block_stop_signals, unblock_stop_signals
from podnet.lab import apiserver
from podnet.lab.teardown import teardown


def up(spec: ClusterSpec, progress: Progress = quiet, detached: bool = False, api: str | None = None) -> Lab:
    """Bring a lab up and return it open, or tear down whatever it made and re-raise. With
    ``api`` (the address to listen on), the lab's Kubernetes API server is started too
    (kubectl's way in)."""
    lab_state = planned_state(spec)
    taken = [ns for ns in lab_state.namespaces if netns.exists(ns)]
    if taken:
        raise LabConflict(
            f"network namespace {taken[0]} already exists and was not made by lab {spec.name!r}: "
            "pick another --name (podnet never deletes what it did not create)"
        )
    lab_state.owner_pid = os.getpid()
    lab_state.owner_start = netns.process_start_time(os.getpid())
    lab_state.detached = detached
    paths = state_file.claim(spec.name, lab_state)  # the intent (every namespace name) is on disk first
    lab = None
    try:
        lab = Lab(lab_state, paths)
        for builder in components.infrastructure():
            builder.build(lab.ctx, progress)
        lab.reconcile(Change.of(LAB), progress, hold_signals=False)
        lab_state.status = "running"
        lab.save()
        if api is not None and spec.model != "docker":
            apiserver.start(spec.name, api)
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


def planned_state(spec: ClusterSpec):
    """The model as it will be once up, validated completely before anything exists: nodes
    with podCIDRs, the topology's Pods, CoreDNS and the topology's workloads."""
    state = initial_state(spec)
    if spec.model == "docker":
        return state
    objects = addons.dns_objects(state) if spec.cluster_dns else []
    if spec.workloads:
        workloads = parse_documents(list(spec.workloads), "workloads")
        check_against_spec(spec, workloads)
        objects += workloads
    if objects:
        state, _result = api.apply_objects(state, objects)
    return state
