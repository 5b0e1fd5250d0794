"""``kubectl label``: add, change or remove labels of a Pod or a Namespace.

Mirrors kubectl's label verb and the API server's checks: ``key=value`` sets, ``key-``
removes; changing a key that has a value needs ``--overwrite`` ("'app' already has a value
(web), and --overwrite is false"); a Namespace's ``kubernetes.io/metadata.name`` always
stays its name. What labels select (Service endpoints, NetworkPolicies, a Deployment's
Pods) follows when the kernel does. Pure.
"""

from __future__ import annotations

import copy
import secrets

from podnet.core.errors import InputError
from podnet.core.model import LabState
from podnet.k8s.workloads.api_fields import KEY_DETAIL, LABEL_DETAIL, is_label_key, is_label_value
from podnet.k8s.workloads.apply import relabel_pod
from podnet.k8s.workloads.manifests import NAMESPACE_NAME_LABEL
from podnet.k8s.workloads.namespaces import NotFound
from podnet.k8s.workloads.results import ApplyResult, ref

KINDS = {"pod": "Pod", "pods": "Pod", "po": "Pod", "namespace": "Namespace", "namespaces": "Namespace", "ns": "Namespace"}


def parse_changes(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """``["app=web", "tier-"]`` -> ({"app": "web"}, ["tier"])."""
    if not words:
        raise InputError("labels", "", "give at least one KEY=VALUE to set or KEY- to remove")
    sets, removes = {}, []
    for word in words:
        if word.endswith("-") and "=" not in word:
            key = word[:-1]
            if not is_label_key(key):
                raise InputError("label key", key, KEY_DETAIL)
            removes.append(key)
            continue
        key, sep, value = word.partition("=")
        if not sep:
            raise InputError("label", word, "use KEY=VALUE to set a label or KEY- to remove one")
        if not is_label_key(key):
            raise InputError("label key", key, KEY_DETAIL)
        if not is_label_value(value):
            raise InputError("label value", value, LABEL_DETAIL)
        sets[key] = value
    return sets, removes


def label(state: LabState, kind: str, name: str, namespace: str, sets: dict[str, str], removes: list[str],
          overwrite: bool = False, rand=secrets.randbelow) -> tuple[LabState, ApplyResult]:
    canonical = KINDS.get(kind.lower())
    if canonical is None:
        raise InputError("resource type", kind, "podnet labels pods and namespaces (po, ns)")
    new = copy.deepcopy(state)
    result = ApplyResult()
    if canonical == "Namespace":
        target = new.kube_namespaces.get(name)
        if target is None:
            raise NotFound("namespaces", name)
    else:
        target = new.pods.get(name)
        if target is None or target.namespace != namespace:
            raise InputError("pod", name, f'pods "{name}" not found in namespace {namespace}')
    for key, value in sets.items():
        if key in target.labels and target.labels[key] != value and not overwrite:
            raise InputError("label", key, f"'{key}' already has a value ({target.labels[key]}), and --overwrite is false")
    labels = {k: v for k, v in target.labels.items() if k not in removes}
    labels.update(sets)
    if canonical == "Namespace":
        labels[NAMESPACE_NAME_LABEL] = name
    changed = labels != target.labels
    if canonical == "Namespace":
        target.labels = labels
    elif changed:
        relabel_pod(new, target, labels, result, rand)
    result.lines.append(f"{ref(canonical, name)} {'labeled' if changed else 'not labeled'}")
    return new, result
