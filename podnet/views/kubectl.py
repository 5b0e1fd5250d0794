"""Read-only commands shared by the command line and the interactive CLI: get, describe, routes.

Mirrors kubectl's ``get`` and ``describe`` argument handling (``get nodes|pods [-o wide|json]``,
``describe node|pod NAME``; singular, plural and short names such as ``no``, ``po``, ``svc``,
``netpol`` and ``ns`` accepted).
Returns text; the callers print it.
"""

from __future__ import annotations

import json

from podnet.views import cluster as views
from podnet.views import policies as pv
from podnet.core.errors import InputError
from podnet.core.model import LabState

KINDS = {
    "nodes": "nodes", "node": "nodes", "no": "nodes",
    "pods": "pods", "pod": "pods", "po": "pods",
    "services": "services", "service": "services", "svc": "services",
    "endpoints": "endpoints", "endpoint": "endpoints", "ep": "endpoints",
    "deployments": "deployments", "deployment": "deployments", "deploy": "deployments",
    "networkpolicies": "networkpolicies", "networkpolicy": "networkpolicies", "netpol": "networkpolicies",
    "namespaces": "namespaces", "namespace": "namespaces", "ns": "namespaces",
}
NAMESPACED = ("pods", "services", "endpoints", "deployments", "networkpolicies")
KIND_WORDS = ("use nodes, pods, services (svc), endpoints (ep), deployments (deploy), networkpolicies (netpol) "
              "or namespaces (ns)")
OUTPUTS = ("table", "wide", "json")


def kind_of(word: str) -> str:
    kind = KINDS.get(word)
    if kind is None:
        raise InputError("resource type", word, KIND_WORDS)
    return kind


def _namespaced(state: LabState, kind: str, namespace: str | None) -> dict:
    """Objects of ``kind`` by name, in ``namespace`` (None: all namespaces)."""
    if kind == "pods":
        source = list(state.pods.values())
    elif kind == "networkpolicies":
        source = list(state.policies.values())
    elif kind == "deployments":
        source = list(state.deployments.values())
    else:
        source = list(state.services.values())
    return {o.name if namespace else f"{o.namespace}/{o.name}": o for o in source
            if namespace is None or o.namespace == namespace}


def get(state: LabState, kind_word: str, output: str = "table", names: list[str] | None = None,
        namespace: str | None = "default") -> str:
    """``namespace`` None lists every namespace (kubectl's -A)."""
    kind = kind_of(kind_word)
    if output not in OUTPUTS:
        raise InputError("output", output, "use wide or json")
    if kind in ("services", "endpoints", "deployments"):
        return _get_service_kinds(state, kind, output, names or [], namespace)
    if kind in ("networkpolicies", "namespaces"):
        return _get_policy_kinds(state, kind, output, names or [], namespace)
    if kind == "pods" and (namespace != "default" or any(p.namespace != "default" for p in state.pods.values())):
        return _get_pods(state, output, names or [], namespace)
    objects = state.nodes if kind == "nodes" else state.pods
    for name in names or []:
        if name not in objects:
            raise InputError(_singular(kind), name, f"not found: {kind} are " + ", ".join(objects))
    selected = [objects[n] for n in names] if names else list(objects.values())
    if output == "json":
        to_json = views.node_json if kind == "nodes" else views.pod_json
        items = [to_json(state, obj) for obj in selected]  # type: ignore[arg-type]
        return json.dumps(items[0] if names and len(names) == 1 else views.as_list(items), indent=2)
    subset = _subset(state, kind, [o.name for o in selected])
    if kind == "nodes":
        return views.nodes_table(subset, wide=output == "wide")
    return views.pods_table(subset, wide=output == "wide")


def _get_pods(state: LabState, output: str, names: list[str], namespace: str | None) -> str:
    objects = _namespaced(state, "pods", namespace)
    for name in names:
        if name not in objects:
            raise InputError("pod", name, f'pods "{name}" not found in namespace {namespace or "any"}')
    selected = [objects[n] for n in names] if names else list(objects.values())
    if namespace is None:
        selected.sort(key=lambda p: p.namespace)  # stable: each namespace keeps its own order
    if output == "json":
        items = [views.pod_json(state, p) for p in selected]
        return json.dumps(items[0] if len(names) == 1 else views.as_list(items), indent=2)
    import copy
    view = copy.copy(state)
    view.pods = {p.name: p for p in selected}
    return views.pods_table(view, wide=output == "wide", all_namespaces=namespace is None)


def _get_service_kinds(state: LabState, kind: str, output: str, names: list[str], namespace: str | None) -> str:
    from podnet.views import services as sv

    objects = _namespaced(state, "deployments" if kind == "deployments" else "services", namespace)
    for name in names:
        if name not in objects:
            raise InputError(_singular(kind), name, f'{kind} "{name}" not found in namespace {namespace or "any"}')
    selected = [objects[n] for n in names] if names else sorted(objects.values(), key=lambda o: (o.namespace, o.name))
    every = namespace is None
    if output == "json":
        to_json = {"services": sv.service_json, "endpoints": sv.endpoints_json, "deployments": sv.deployment_json}[kind]
        items = [to_json(state, o) for o in selected]
        return json.dumps(items[0] if len(names) == 1 else views.as_list(items), indent=2)
    if not selected:
        return "No resources found" + (f" in {namespace} namespace." if namespace else ".")
    if kind == "services":
        return sv.services_table(state, selected, output == "wide", every)
    if kind == "endpoints":
        return sv.endpoints_table(state, selected, every)
    return sv.deployments_table(state, selected, output == "wide", every)


def _get_policy_kinds(state: LabState, kind: str, output: str, names: list[str], namespace: str | None) -> str:
    if kind == "namespaces":
        objects = dict(state.kube_namespaces)
        to_json = pv.namespace_json
        missing = 'namespaces "{}" not found'
    else:
        objects = _namespaced(state, "networkpolicies", namespace)
        to_json = pv.policy_json
        missing = 'networkpolicies.networking.k8s.io "{}" not found' + f" in namespace {namespace or 'any'}"
    for name in names:
        if name not in objects:
            raise InputError(_singular(kind), name, missing.format(name))
    selected = [objects[n] for n in names] if names else sorted(objects.values(), key=lambda o: o.name)
    if output == "json":
        items = [to_json(state, o) for o in selected]
        return json.dumps(items[0] if len(names) == 1 else views.as_list(items), indent=2)
    if kind == "namespaces":
        return pv.namespaces_table(selected, show_labels=output == "wide")
    if not selected:
        return "No resources found" + (f" in {namespace} namespace." if namespace else ".")
    if namespace is None:
        selected.sort(key=lambda o: (o.namespace, o.name))
    return pv.policies_table(selected, namespace is None)


def _subset(state: LabState, kind: str, names: list[str]) -> LabState:
    import copy
    view = copy.copy(state)
    if kind == "nodes":
        view.nodes = {n: state.nodes[n] for n in names}
    else:
        view.pods = {n: state.pods[n] for n in names}
    return view


def describe(state: LabState, kind_word: str, name: str, namespace: str = "default") -> str:
    kind = kind_of(kind_word)
    if kind == "namespaces":
        if name not in state.kube_namespaces:
            raise InputError("namespace", name, f'namespaces "{name}" not found')
        return pv.describe_namespace(state, state.kube_namespaces[name])
    if kind == "networkpolicies":
        objects = _namespaced(state, "networkpolicies", namespace)
        if name not in objects:
            raise InputError("networkpolicy", name, f'networkpolicies.networking.k8s.io "{name}" not found in namespace '
                             f"{namespace}")
        return pv.describe_policy(state, objects[name])
    if kind in ("services", "deployments", "endpoints"):
        from podnet.views import services as sv

        objects = _namespaced(state, "deployments" if kind == "deployments" else "services", namespace)
        if name not in objects:
            raise InputError(_singular(kind), name, f'{kind} "{name}" not found in namespace {namespace}')
        if kind == "deployments":
            return sv.describe_deployment(state, objects[name])
        return sv.describe_service(state, objects[name])
    objects = state.nodes if kind == "nodes" else state.pods
    if name not in objects:
        raise InputError(_singular(kind), name, f"not found: {kind} are " + ", ".join(objects))
    if kind == "nodes":
        return views.describe_node(state, state.nodes[name])
    return views.describe_pod(state, state.pods[name])


def _singular(kind: str) -> str:
    """The field word of a kind: ``networkpolicies`` -> ``networkpolicy``, ``pods`` -> ``pod``."""
    return kind[:-3] + "y" if kind.endswith("ies") else kind[:-1]


def describe_json(state: LabState, kind_word: str, name: str, namespace: str = "default") -> str:
    """The object as ``get -o json`` has it, plus its events (what describe adds)."""
    kind = kind_of(kind_word)
    if kind in ("networkpolicies", "namespaces"):
        data = json.loads(get(state, kind, "json", [name], namespace))
        obj = state.kube_namespaces[name] if kind == "namespaces" else _namespaced(state, kind, namespace)[name]
        data["events"] = [vars(e) for e in obj.events]
        return json.dumps(data, indent=2)
    if kind in ("services", "deployments", "endpoints"):
        data = json.loads(get(state, kind, "json", [name], namespace))
        objects = _namespaced(state, "deployments" if kind == "deployments" else "services", namespace)
        data["events"] = [vars(e) for e in objects[name].events]
        return json.dumps(data, indent=2)
    objects = state.nodes if kind == "nodes" else state.pods
    if name not in objects:
        raise InputError(_singular(kind), name, f"not found: {kind} are " + ", ".join(objects))
    obj = objects[name]
    data = views.node_json(state, obj) if kind == "nodes" else views.pod_json(state, obj)  # type: ignore[arg-type]
    data["events"] = [vars(e) for e in obj.events]
    return json.dumps(data, indent=2)


def names_of(state: LabState, kind_word: str, namespace: str = "default") -> list[str]:
    """Every object of a kind, as ``kubectl describe KIND`` without a name describes them:
    nodes in node order, namespaced kinds of ``namespace`` by name."""
    kind = kind_of(kind_word)
    if kind == "nodes":
        return list(state.nodes)
    if kind == "namespaces":
        return sorted(state.kube_namespaces)
    if kind == "networkpolicies":
        return sorted(_namespaced(state, "networkpolicies", namespace))
    source = "deployments" if kind == "deployments" else "pods" if kind == "pods" else "services"
    return sorted(_namespaced(state, source, namespace)) if kind != "pods" else list(_namespaced(state, "pods", namespace))


def describe_json_many(state: LabState, kind_word: str, names: list[str], namespace: str = "default",
                       single: bool = False) -> str:
    """One object (``single``), or a List of every named one, each with its events."""
    items = [json.loads(describe_json(state, kind_word, name, namespace)) for name in names]
    if single:
        return json.dumps(items[0], indent=2)
    return json.dumps(views.as_list(items), indent=2)


def parse_get_args(words: list[str]) -> tuple[str, str, list[str]]:
    """``get`` words as kubectl takes them: KIND [NAME...] [-o wide|json]."""
    kind, output, names, _namespace = parse_get_words(words)
    return kind, output, names


def parse_get_words(words: list[str]) -> tuple[str, str, list[str], str | None]:
    """Like :func:`parse_get_args`, plus ``-n NAMESPACE`` and ``-A`` (namespace None: all)."""
    from podnet.core.naming import check_dns1123_label

    output = "table"
    namespace: str | None = "default"
    rest = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-A", "--all-namespaces"):
            namespace = None
            i += 1
            continue
        if word in ("-n", "--namespace"):
            if i + 1 >= len(words):
                raise InputError("namespace", "", "give one after -n, e.g. -n kube-system")
            namespace = check_dns1123_label("namespace", words[i + 1])
            i += 2
            continue
        if word in ("-o", "--output"):
            if i + 1 >= len(words):
                raise InputError("output", "", "use -o wide or -o json")
            output = words[i + 1]
            i += 2
            continue
        if word.startswith("-o") and len(word) > 2:
            output = word[2:].lstrip("=")
        elif word.startswith("--output="):
            output = word.split("=", 1)[1]
        else:
            rest.append(word)
        i += 1
    if not rest:
        raise InputError("resource type", "", "use get nodes or get pods")
    if output not in OUTPUTS:
        raise InputError("output", output, "use wide or json")
    return rest[0], output, rest[1:], namespace
