"""Parsing and validating Pod, Deployment and Service manifests (podnet.workloads.manifests)."""

from __future__ import annotations

import copy
import textwrap

import pytest

from podnet.core.errors import EXIT_BAD_INPUT, InputError
from podnet.k8s.workloads.manifests import (
    ContainerPort,
    DeploymentObject,
    Forbidden,
    InvalidObject,
    RequiredValue,
    PodObject,
    ServiceObject,
    ServicePort,
    UnsupportedValue,
    parse_documents,
    parse_text,
    read_file,
)


def pod_doc(name="web-1", **spec):
    body = {"containers": [{"name": "app", "image": "agnhost", "ports": [{"containerPort": 80}]}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}}, "spec": body}


def deployment_doc(name="web", replicas=2, match=None, labels=None, ports=None):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": match if match is not None else {"app": "web"}},
            "template": {
                "metadata": {"labels": labels if labels is not None else {"app": "web", "tier": "front"}},
                "spec": {"containers": [{"name": "app", "ports": ports if ports is not None else [
                    {"name": "http", "containerPort": 8080}]}]},
            },
        },
    }


def service_doc(name="web", ports=None, **spec):
    body = {"selector": {"app": "web"}, "ports": ports if ports is not None else [{"port": 80, "targetPort": 8080}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": body}


def error_of(document) -> InputError:
    with pytest.raises(InputError) as info:
        parse_documents([document], "test.yaml")
    return info.value


# --- accepted objects -------------------------------------------------------------------------


def test_pod_fields_and_defaults():
    doc = pod_doc(nodeName="node-2")
    doc["spec"]["containers"][0]["ports"] = [
        {"name": "http", "containerPort": 80},
        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
    ]
    [pod] = parse_documents([doc])
    assert isinstance(pod, PodObject)
    assert (pod.kind, pod.name, pod.namespace, pod.node_name) == ("Pod", "web-1", "default", "node-2")
    assert pod.labels == {"app": "web"}
    assert pod.ports == (ContainerPort(80, "TCP", "http"), ContainerPort(53, "UDP", "dns"))
    assert pod.ports[1].to_json() == {"name": "dns", "containerPort": 53, "protocol": "UDP"}


def test_pod_without_ports_and_with_numeric_label_value():
    doc = pod_doc()
    doc["spec"]["containers"] = [{"name": "app"}]
    doc["metadata"]["labels"] = {"version": 2, "example.com/tier": "db"}
    doc["metadata"]["namespace"] = "prod"
    [pod] = parse_documents([doc])
    assert pod.ports == ()
    assert pod.namespace == "prod"
    assert pod.labels == {"version": "2", "example.com/tier": "db"}


def test_same_port_number_on_both_protocols_is_allowed_in_a_pod():
    doc = pod_doc()
    doc["spec"]["containers"][0]["ports"] = [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 53}]
    [pod] = parse_documents([doc])
    assert [(p.container_port, p.protocol) for p in pod.ports] == [(53, "UDP"), (53, "TCP")]


def test_deployment_fields():
    [dep] = parse_documents([deployment_doc(replicas=3)])
    assert isinstance(dep, DeploymentObject)
    assert (dep.kind, dep.name, dep.namespace, dep.replicas) == ("Deployment", "web", "default", 3)
    assert dep.selector == {"app": "web"}
    assert dep.template_labels == {"app": "web", "tier": "front"}
    assert dep.ports == (ContainerPort(8080, "TCP", "http"),)
    assert dep.node_name is None


def test_deployment_replicas_default_to_one_and_zero_is_fine():
    doc = deployment_doc()
    del doc["spec"]["replicas"]
    assert parse_documents([doc])[0].replicas == 1
    assert parse_documents([deployment_doc(replicas=0)])[0].replicas == 0


def test_service_defaults():
    [svc] = parse_documents([service_doc(ports=[{"port": 80}])])
    assert isinstance(svc, ServiceObject)
    assert svc.type == "ClusterIP"
    assert svc.cluster_ip is None
    assert svc.session_affinity == "None"
    assert svc.affinity_timeout == 10800
    # targetPort defaults to port, protocol to TCP, an only port may be unnamed
    assert svc.ports == (ServicePort("", "TCP", 80, 80, None),)


def test_service_nodeport_named_ports_and_affinity():
    doc = service_doc(
        type="NodePort",
        clusterIP="10.96.0.50",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
        ports=[
            {"name": "http", "port": 80, "targetPort": "http", "nodePort": 30080},
            {"name": "alt", "port": 8080, "targetPort": "9090"},
            {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 32767},
        ],
    )
    [svc] = parse_documents([doc])
    assert svc.type == "NodePort"
    assert svc.cluster_ip == "10.96.0.50"
    assert (svc.session_affinity, svc.affinity_timeout) == ("ClientIP", 60)
    assert svc.ports == (
        ServicePort("http", "TCP", 80, "http", 30080),
        ServicePort("alt", "TCP", 8080, 9090, None),  # a numeric string is a number
        ServicePort("dns", "UDP", 53, 53, 32767),
    )


def test_service_client_ip_affinity_without_config_keeps_default_timeout():
    [svc] = parse_documents([service_doc(sessionAffinity="ClientIP")])
    assert (svc.session_affinity, svc.affinity_timeout) == ("ClientIP", 10800)


def test_service_same_port_two_protocols_is_allowed():
    doc = service_doc(ports=[{"name": "dns", "port": 53, "protocol": "UDP"},
                             {"name": "dns-tcp", "port": 53, "protocol": "TCP"}])
    [svc] = parse_documents([doc])
    assert [(p.port, p.protocol) for p in svc.ports] == [(53, "UDP"), (53, "TCP")]


def test_service_name_may_be_63_characters_pod_name_53():
    assert parse_documents([service_doc(name="s" * 63)])[0].name == "s" * 63
    assert parse_documents([pod_doc(name="p" * 53)])[0].name == "p" * 53


def test_pod_name_may_start_with_a_digit_but_a_service_name_may_not():
    assert parse_documents([pod_doc(name="1web")])[0].name == "1web"
    err = error_of(service_doc(name="1web"))
    assert str(err) == (
        'The Service "1web" is invalid: metadata.name: Invalid value: "1web": a DNS-1035 label must consist of '
        "lower case alphanumeric characters or '-', start with an alphabetic character, and end with an "
        "alphanumeric character")


def test_parsing_does_not_modify_the_documents():
    docs = [deployment_doc(), service_doc(type="NodePort", ports=[{"port": 80, "nodePort": 30001}])]
    before = copy.deepcopy(docs)
    parse_documents(docs)
    assert docs == before


# --- every error path, with Kubernetes' wording -------------------------------------------------

SVC = 'The Service "web" is invalid: '
DEP = 'The Deployment "web" is invalid: '
POD = 'The Pod "web-1" is invalid: '


def _with(doc, path, value):
    """Set ``value`` at a path like ("spec", "ports", 0, "nodePort") in a copy of ``doc``."""
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


ERRORS = [
    # Service ports
    ("nodePort above range", _with(service_doc(type="NodePort"), ("spec", "ports", 0, "nodePort"), 40000),
     InvalidObject, SVC + "spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. "
     "The range of valid ports is 30000-32767"),
    ("nodePort below range", _with(service_doc(type="NodePort"), ("spec", "ports", 0, "nodePort"), 29999),
     InvalidObject, SVC + "spec.ports[0].nodePort: Invalid value: 29999: provided port is not in the valid range. "
     "The range of valid ports is 30000-32767"),
    ("nodePort on a ClusterIP Service", _with(service_doc(), ("spec", "ports", 0, "nodePort"), 30080),
     Forbidden, SVC + "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"),
    ("nodePort not a number", _with(service_doc(type="NodePort"), ("spec", "ports", 0, "nodePort"), "30080"),
     InvalidObject, SVC + 'spec.ports[0].nodePort: Invalid value: "30080": must be an integer'),
    ("port 0", _with(service_doc(), ("spec", "ports", 0, "port"), 0),
     InvalidObject, SVC + "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"),
    ("port 65536", _with(service_doc(), ("spec", "ports", 0, "port"), 65536),
     InvalidObject, SVC + "spec.ports[0].port: Invalid value: 65536: must be between 1 and 65535, inclusive"),
    ("port missing", service_doc(ports=[{"targetPort": 80}]),
     InvalidObject, SVC + "spec.ports[0].port: Invalid value: null: must be an integer"),
    ("port is a bool", service_doc(ports=[{"port": True}]),
     InvalidObject, SVC + "spec.ports[0].port: Invalid value: true: must be an integer"),
    ("targetPort 0", service_doc(ports=[{"port": 80, "targetPort": 0}]),
     InvalidObject, SVC + "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"),
    ("targetPort 70000", service_doc(ports=[{"port": 80, "targetPort": 70000}]),
     InvalidObject, SVC + "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive"),
    ("targetPort bad name", service_doc(ports=[{"port": 80, "targetPort": "Http_Port"}]),
     InvalidObject, SVC + 'spec.ports[0].targetPort: Invalid value: "Http_Port": must be a port number or an '
     "IANA_SVC_NAME"),
    ("targetPort name too long", service_doc(ports=[{"port": 80, "targetPort": "a" * 16}]),
     InvalidObject, SVC + f'spec.ports[0].targetPort: Invalid value: "{"a" * 16}": must be a port number or an '
     "IANA_SVC_NAME"),
    ("protocol SCTP", service_doc(ports=[{"port": 80, "protocol": "SCTP"}]),
     UnsupportedValue, SVC + 'spec.ports[0].protocol: Unsupported value: "SCTP": supported values: "TCP", "UDP" '
     "(SCTP is valid in Kubernetes; podnet emulates TCP and UDP)"),
    ("protocol ICMP", service_doc(ports=[{"port": 80, "protocol": "ICMP"}]),
     UnsupportedValue, SVC + 'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", '
     '"SCTP"'),
    ("protocol lower case", service_doc(ports=[{"port": 80, "protocol": "tcp"}]),
     UnsupportedValue, SVC + 'spec.ports[0].protocol: Unsupported value: "tcp": supported values: "TCP", "UDP", '
     '"SCTP"'),
    ("duplicate port", service_doc(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80, "targetPort": 81}]),
     InvalidObject, SVC + "spec.ports[1].port: Invalid value: 80: Duplicate value"),
    ("duplicate port name", service_doc(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81}]),
     InvalidObject, SVC + 'spec.ports[1].name: Invalid value: "http": Duplicate value'),
    ("duplicate nodePort", service_doc(type="NodePort", ports=[{"name": "a", "port": 80, "nodePort": 30080},
                                                               {"name": "b", "port": 81, "nodePort": 30080}]),
     InvalidObject, SVC + "spec.ports[1].nodePort: Invalid value: 30080: Duplicate value"),
    ("unnamed port among several", service_doc(ports=[{"name": "a", "port": 80}, {"port": 81}]),
     RequiredValue, SVC + "spec.ports[1].name: Required value"),
    ("bad port name", service_doc(ports=[{"name": "HTTP", "port": 80}]),
     InvalidObject, SVC + 'spec.ports[0].name: Invalid value: "HTTP": must be a DNS-1123 label of at most 15 '
     "characters"),
    ("no ports", service_doc(ports=[]),
     RequiredValue, SVC + "spec.ports: Required value"),
    ("port entry not a mapping", service_doc(ports=[80]),
     InvalidObject, SVC + "spec.ports[0]: Invalid value: 80: must be a mapping with port"),
    # Service type, clusterIP, affinity
    ("type LoadBalancer", service_doc(type="LoadBalancer"),
     UnsupportedValue, SVC + 'spec.type: Unsupported value: "LoadBalancer": supported values: "ClusterIP", '
     '"NodePort" (LoadBalancer and ExternalName are valid in Kubernetes; podnet emulates ClusterIP and NodePort)'),
    ("type ExternalName", service_doc(type="ExternalName"),
     UnsupportedValue, SVC + 'spec.type: Unsupported value: "ExternalName": supported values: "ClusterIP", '
     '"NodePort" (LoadBalancer and ExternalName are valid in Kubernetes; podnet emulates ClusterIP and NodePort)'),
    ("type unknown", service_doc(type="Foo"),
     UnsupportedValue, SVC + 'spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "NodePort"'),
    ("headless", service_doc(clusterIP="None"),
     InvalidObject, SVC + 'spec.clusterIP: Invalid value: "None": headless Services are not emulated by podnet'),
    ("empty clusterIP", service_doc(clusterIP=""),
     InvalidObject, SVC + 'spec.clusterIP: Invalid value: "": must be a valid IP address'),
    ("affinity Cookie", service_doc(sessionAffinity="Cookie"),
     UnsupportedValue, SVC + 'spec.sessionAffinity: Unsupported value: "Cookie": supported values: "ClientIP", '
     '"None"'),
    ("affinity config without ClientIP", service_doc(sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}}),
     InvalidObject, SVC + 'spec.sessionAffinityConfig: Invalid value: "{...}": must not be set when '
     "`sessionAffinity` is None"),
    ("affinity timeout 0", service_doc(sessionAffinity="ClientIP",
                                       sessionAffinityConfig={"clientIP": {"timeoutSeconds": 0}}),
     InvalidObject, SVC + "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater "
     "than 0 and less than 86400"),
    ("affinity timeout too long", service_doc(sessionAffinity="ClientIP",
                                              sessionAffinityConfig={"clientIP": {"timeoutSeconds": 86401}}),
     InvalidObject, SVC + "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be "
     "greater than 0 and less than 86400"),
    # names, namespaces, labels
    ("service name upper case", service_doc(name="Web"),
     InvalidObject, 'The Service "Web" is invalid: metadata.name: Invalid value: "Web": a DNS-1035 label must '
     "consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an "
     "alphanumeric character"),
    ("service name too long", service_doc(name="s" * 64),
     InvalidObject, f'The Service "{"s" * 64}" is invalid: metadata.name: Invalid value: "{"s" * 64}": must be no '
     "more than 63 characters"),
    ("pod name with underscore", pod_doc(name="web_1"),
     InvalidObject, 'The Pod "web_1" is invalid: metadata.name: Invalid value: "web_1": a lowercase RFC 1123 label '
     "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
     "character"),
    ("pod name ends with a dash", pod_doc(name="web-"),
     InvalidObject, 'The Pod "web-" is invalid: metadata.name: Invalid value: "web-": a lowercase RFC 1123 label '
     "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
     "character"),
    ("pod name too long", pod_doc(name="p" * 54),
     InvalidObject, f'The Pod "{"p" * 54}" is invalid: metadata.name: Invalid value: "{"p" * 54}": must be no more '
     "than 53 characters"),
    ("deployment name with a dot", deployment_doc(name="web.v2"),
     InvalidObject, 'The Deployment "web.v2" is invalid: metadata.name: Invalid value: "web.v2": a lowercase RFC '
     "1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an "
     "alphanumeric character"),
    ("no name", _with(pod_doc(), ("metadata", "name"), None),
     InputError, "invalid metadata.name: None: a Pod needs a name"),
    ("name is a number", _with(service_doc(), ("metadata", "name"), 5),
     InputError, "invalid metadata.name: 5: a Service needs a name"),
    ("bad namespace", _with(pod_doc(), ("metadata", "namespace"), "Prod"),
     InvalidObject, POD + 'metadata.namespace: Invalid value: "Prod": must be a DNS-1123 label'),
    ("bad label value", _with(pod_doc(), ("metadata", "labels"), {"app": "-web"}),
     InvalidObject, POD + 'metadata.labels.app: Invalid value: "-web": a valid label must be an empty string or '
     "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
    ("label value not a string", _with(pod_doc(), ("metadata", "labels"), {"app": ["a"]}),
     InvalidObject, POD + "metadata.labels.app: Invalid value: ['a']: a label value must be a string"),
    ("bad label key", _with(pod_doc(), ("metadata", "labels"), {"app!": "web"}),
     InvalidObject, POD + 'metadata.labels: Invalid value: "app!": name part must consist of alphanumeric '
     "characters, '-', '_' or '.', and must start and end with an alphanumeric character"),
    ("labels not a map", _with(pod_doc(), ("metadata", "labels"), ["app"]),
     InvalidObject, POD + "metadata.labels: Invalid value: ['app']: must be a map of string keys to string values"),
    # Deployment
    ("selector mismatch", deployment_doc(match={"app": "web"}, labels={"app": "other"}),
     InvalidObject, DEP + 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"other"}: '
     "`selector` does not match template `labels`"),
    ("selector key missing from template", deployment_doc(match={"app": "web", "tier": "db"},
                                                          labels={"tier": "front", "app": "web"}),
     InvalidObject, DEP + 'spec.template.metadata.labels: Invalid value: '
     'map[string]string{"app":"web", "tier":"front"}: `selector` does not match template `labels`'),
    ("no matchLabels", _with(deployment_doc(), ("spec", "selector"), {"matchExpressions": []}),
     InvalidObject, DEP + "spec.selector: Invalid value: {'matchExpressions': []}: a Deployment needs "
     "selector.matchLabels (podnet does not read matchExpressions)"),
    ("replicas negative", deployment_doc(replicas=-1),
     InvalidObject, DEP + "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    ("replicas too many", deployment_doc(replicas=201),
     InvalidObject, DEP + "spec.replicas: Invalid value: 201: must be between 0 and 200 in a podnet lab"),
    ("replicas a string", deployment_doc(replicas="3"),
     InvalidObject, DEP + 'spec.replicas: Invalid value: "3": must be an integer'),
    ("no template", _with(deployment_doc(), ("spec", "template"), None),
     InvalidObject, DEP + "spec.template: Invalid value: null: needs metadata.labels and a Pod spec"),
    ("template nodeName invalid", _with(deployment_doc(), ("spec", "template", "spec", "nodeName"), "Node_1"),
     InvalidObject, DEP + 'spec.template.spec.nodeName: Invalid value: "Node_1": must be a node name'),
    # Pod spec
    ("no containers", _with(pod_doc(), ("spec", "containers"), []),
     InputError, "invalid spec.containers: []: a Pod needs at least one container"),
    ("container without name", _with(pod_doc(), ("spec", "containers"), [{"image": "x"}]),
     InputError, "invalid spec.containers[0]: {'image': 'x'}: a container needs a name (and an image)"),
    ("containerPort 0", _with(pod_doc(), ("spec", "containers", 0, "ports"), [{"containerPort": 0}]),
     InvalidObject, POD + "spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and "
     "65535, inclusive"),
    ("duplicate containerPort", _with(pod_doc(), ("spec", "containers", 0, "ports"),
                                      [{"containerPort": 80}, {"containerPort": 80}]),
     InvalidObject, POD + "spec.containers[0].ports[1].containerPort: Invalid value: 80: Duplicate value"),
    ("duplicate container port name across containers",
     _with(pod_doc(), ("spec", "containers"), [{"name": "a", "ports": [{"name": "http", "containerPort": 80}]},
                                               {"name": "b", "ports": [{"name": "http", "containerPort": 81}]}]),
     InvalidObject, POD + 'spec.containers[1].ports[0].name: Invalid value: "http": Duplicate value'),
    ("container port name too long", _with(pod_doc(), ("spec", "containers", 0, "ports"),
                                           [{"name": "a" * 16, "containerPort": 80}]),
     InvalidObject, POD + f'spec.containers[0].ports[0].name: Invalid value: "{"a" * 16}": must be an IANA_SVC_NAME '
     "(at most 15 characters, lower case alphanumerics and '-')"),
    ("container protocol SCTP", _with(pod_doc(), ("spec", "containers", 0, "ports"),
                                      [{"containerPort": 80, "protocol": "SCTP"}]),
     UnsupportedValue, POD + 'spec.containers[0].ports[0].protocol: Unsupported value: "SCTP": supported values: '
     '"TCP", "UDP" (SCTP is valid in Kubernetes; podnet emulates TCP and UDP)'),
    ("hostNetwork", pod_doc(hostNetwork=True),
     InvalidObject, POD + "spec.hostNetwork: Invalid value: true: podnet runs every Pod in its own network "
     "namespace; hostNetwork Pods are not emulated"),
    ("nodeName invalid", pod_doc(nodeName="Node 1"),
     InvalidObject, POD + 'spec.nodeName: Invalid value: "Node 1": must be a node name'),
    ("spec missing", _with(pod_doc(), ("spec",), None),
     InvalidObject, POD + "spec: Invalid value: null: must be a mapping"),
    # kinds, apiVersions, shapes
    ("kind ConfigMap", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
     InputError, "invalid kind: 'ConfigMap': podnet applies Namespace, Pod, Deployment, Service, NetworkPolicy (and List); found in "
     "test.yaml document 1"),
    ("kind missing", {"apiVersion": "v1", "metadata": {"name": "x"}},
     InputError, "invalid kind: None: podnet applies Namespace, Pod, Deployment, Service, NetworkPolicy (and List); found in "
     "test.yaml document 1"),
    ("Deployment with apiVersion v1", _with(deployment_doc(), ("apiVersion",), "v1"),
     InputError, "invalid apiVersion: 'v1': a Deployment has apiVersion apps/v1"),
    ("Service with apiVersion apps/v1", _with(service_doc(), ("apiVersion",), "apps/v1"),
     InputError, "invalid apiVersion: 'apps/v1': a Service has apiVersion v1"),
    ("no metadata", _with(service_doc(), ("metadata",), None),
     InputError, "invalid metadata: None: a Service needs metadata with a name"),
    ("document is a string", "just text",
     InputError, "invalid object: 'test.yaml document 1': must be a mapping with apiVersion, kind and metadata"),
]


@pytest.mark.parametrize("document, error_type, message", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_invalid_objects_are_refused_with_kubernetes_wording(document, error_type, message):
    err = error_of(document)
    assert type(err) is error_type
    assert isinstance(err, InputError)
    assert err.exit_code == EXIT_BAD_INPUT
    assert str(err) == message
    assert "\n" not in str(err)


def test_invalid_object_carries_path_and_value():
    err = error_of(_with(service_doc(type="NodePort"), ("spec", "ports", 0, "nodePort"), 40000))
    assert (err.kind, err.name, err.path, err.value) == ("Service", "web", "spec.ports[0].nodePort", 40000)
    assert err.field == "spec.ports[0].nodePort"


def test_a_name_with_a_newline_still_gives_a_one_line_message():
    err = error_of(pod_doc(name="web\nx"))
    assert "\n" not in str(err)


# --- documents, Lists, YAML ---------------------------------------------------------------------


def test_multi_document_text_in_order_with_empty_documents_skipped():
    text = textwrap.dedent("""\
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: app, ports: [{containerPort: 80}]}]}
        ---
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{port: 80}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, namespace: tools}
        spec: {containers: [{name: app}]}
        """)
    objects = parse_text(text, "web.yaml")
    assert [(o.kind, o.namespace, o.name) for o in objects] == [
        ("Deployment", "default", "web"), ("Service", "default", "web"), ("Pod", "tools", "client")]


def test_list_kind_is_flattened():
    doc = {"apiVersion": "v1", "kind": "List", "items": [deployment_doc(), service_doc()]}
    objects = parse_documents([doc, pod_doc()])
    assert [o.kind for o in objects] == ["Deployment", "Service", "Pod"]


def test_list_without_items_is_empty_and_bad_items_are_refused():
    assert parse_documents([{"apiVersion": "v1", "kind": "List"}]) == []
    with pytest.raises(InputError) as info:
        parse_documents([{"apiVersion": "v1", "kind": "List", "items": {"a": 1}}])
    assert str(info.value) == "invalid items: {'a': 1}: a List needs a list of objects in items"


def test_list_items_are_validated_like_documents():
    doc = {"apiVersion": "v1", "kind": "List", "items": [service_doc(type="LoadBalancer")]}
    with pytest.raises(UnsupportedValue):
        parse_documents([doc])


def test_the_same_object_twice_is_refused_even_across_a_list():
    doc = {"apiVersion": "v1", "kind": "List", "items": [service_doc()]}
    with pytest.raises(InputError) as info:
        parse_documents([service_doc(), doc])
    assert str(info.value) == "invalid Service default/web: 'web': appears twice in the input"


def test_same_name_in_two_kinds_or_two_namespaces_is_fine():
    other_ns = _with(service_doc(), ("metadata", "namespace"), "prod")
    objects = parse_documents([deployment_doc(), service_doc(), other_ns])
    assert [(o.kind, o.namespace) for o in objects] == [("Deployment", "default"), ("Service", "default"),
                                                         ("Service", "prod")]


def test_bad_yaml_names_the_source_and_line():
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: x\nspec: {}\n"
    with pytest.raises(InputError) as info:
        parse_text(text, "broken.yaml")
    message = str(info.value)
    assert message.startswith("invalid manifest: 'broken.yaml': is not valid YAML (line ")
    assert "\n" not in message
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_an_error_in_a_later_document_refuses_the_whole_text():
    text = ("apiVersion: v1\nkind: Service\nmetadata: {name: ok}\nspec: {ports: [{port: 80}]}\n---\n"
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: NodePort, ports: "
            "[{port: 80, nodePort: 40000}]}\n")
    with pytest.raises(InvalidObject) as info:
        parse_text(text, "two.yaml")
    assert "provided port is not in the valid range" in str(info.value)


def test_empty_text_gives_no_objects():
    assert parse_text("", "empty.yaml") == []
    assert parse_text("---\n---\n", "empty.yaml") == []


def test_read_file(tmp_path):
    path = tmp_path / "svc.yaml"
    path.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n")
    [svc] = read_file(str(path))
    assert svc.name == "web"
    with pytest.raises(InputError) as info:
        read_file(str(tmp_path / "missing.yaml"))
    assert str(info.value).endswith("no such file")
    with pytest.raises(InputError) as info:
        read_file(str(tmp_path))
    assert "is a directory" in str(info.value)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError) as info:
        read_file(str(binary))
    assert "is not UTF-8 text" in str(info.value)
