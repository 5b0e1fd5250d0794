"""NetworkPolicies in the API: stored as validated, with their defaults, per namespace.

Mirrors the API server's NetworkPolicy registry: a policy lives in a namespace that exists,
an update replaces its spec (``configured``, or ``unchanged`` when nothing differs), and a
deletion is immediate. What the policies mean for packets is the policy agent's business
(:mod:`podnet.k8s.policy`). Pure.
"""

from __future__ import annotations

from podnet.core.model import LabState, NetworkPolicyState
from podnet.k8s.workloads.namespaces import NotFound, require
from podnet.k8s.workloads.objects import NetworkPolicyObject
from podnet.k8s.workloads.results import ApplyResult, deleted, ref


def apply_policy(state: LabState, obj: NetworkPolicyObject, result: ApplyResult) -> None:
    require(state, obj.namespace)
    key = f"{obj.namespace}/{obj.name}"
    current = state.policies.get(key)
    if current is None:
        state.policies[key] = NetworkPolicyState(obj.name, obj.namespace, obj.spec)
        result.lines.append(f"{ref('NetworkPolicy', obj.name)} created")
        return
    verb = "unchanged" if current.spec == obj.spec else "configured"
    current.spec = obj.spec
    result.lines.append(f"{ref('NetworkPolicy', obj.name)} {verb}")


def delete_policy(state: LabState, name: str, namespace: str, result: ApplyResult) -> None:
    key = f"{namespace}/{name}"
    if key not in state.policies:
        raise NotFound("networkpolicies.networking.k8s.io", name, namespace)
    del state.policies[key]
    result.lines.append(deleted("NetworkPolicy", name))
