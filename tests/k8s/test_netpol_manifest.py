"""NetworkPolicy manifests validated and defaulted as the API server does
(podnet.k8s.workloads.netpol_manifest): the defaults a stored policy gets, and the API server's
own message for every way a spec can be wrong. Pure."""

from __future__ import annotations

import pytest

from podnet.core.errors import InputError
from podnet.k8s.workloads.manifests import parse_documents

NP = 'The NetworkPolicy "p" is invalid: '


def netpol(spec, name="p", namespace="shop"):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def parsed(spec):
    [obj] = parse_documents([netpol(spec)])
    return obj.spec


@pytest.mark.parametrize("spec, stored", [
    ({}, {"podSelector": {}, "policyTypes": ["Ingress"]}),
    ({"podSelector": {}, "egress": [{}]}, {"podSelector": {}, "egress": [{}], "policyTypes": ["Ingress", "Egress"]}),
    ({"podSelector": {}, "egress": []}, {"podSelector": {}, "egress": [], "policyTypes": ["Ingress"]}),
    ({"podSelector": {}, "policyTypes": ["Egress"]}, {"podSelector": {}, "policyTypes": ["Egress"]}),
    ({"ingress": [{"ports": [{"port": 80}]}]},
     {"podSelector": {}, "ingress": [{"ports": [{"protocol": "TCP", "port": 80}]}], "policyTypes": ["Ingress"]}),
    ({"ingress": [{"ports": [{"port": "8080", "endPort": 8090, "protocol": "UDP"}]}]},
     {"podSelector": {}, "ingress": [{"ports": [{"protocol": "UDP", "port": 8080, "endPort": 8090}]}],
      "policyTypes": ["Ingress"]}),
    ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}]},
     {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}]}],
      "policyTypes": ["Ingress"]}),
], ids=["empty", "egress-rules-add-Egress", "empty-egress-list", "egress-only", "protocol-TCP", "port-string-number",
        "ip-block"])
def test_defaults_of_a_stored_policy(spec, stored):
    assert parsed(spec) == stored


def test_selectors_are_stored_in_the_api_shape():
    spec = parsed({"podSelector": {"matchLabels": {"app": "web"}},
                   "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                       {"key": "team", "operator": "In", "values": ["a", "b"]}]}, "podSelector": {}}]}]})
    assert spec["podSelector"] == {"matchLabels": {"app": "web"}}
    peer = spec["ingress"][0]["from"][0]
    assert peer["podSelector"] == {} and peer["namespaceSelector"]["matchExpressions"][0]["operator"] == "In"


@pytest.mark.parametrize("spec, message", [
    ({"policyTypes": ["Foo"]},
     NP + 'spec.policyTypes[0]: Unsupported value: "Foo": supported values: "Ingress", "Egress"'),
    ({"policyTypes": ["Ingress", "Egress", "Ingress"]},
     NP + "spec.policyTypes: Invalid value: ['Ingress', 'Egress', 'Ingress']: may not specify more than two policyTypes"),
    ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]},
     NP + "spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer"),
    ({"egress": [{"to": [{}]}]}, NP + "spec.egress[0].to[0]: Required value: must specify a peer"),
    ({"ingress": [{"ports": [{"port": 90, "endPort": 80}]}]},
     NP + "spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`"),
    ({"ingress": [{"ports": [{"port": "http", "endPort": 80}]}]},
     NP + "spec.ingress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is non-numeric"),
    ({"ingress": [{"ports": [{"endPort": 80}]}]},
     NP + "spec.ingress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is not specified"),
    ({"ingress": [{"ports": [{"port": 0}]}]},
     NP + "spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"),
    ({"ingress": [{"ports": [{"port": "HTTP"}]}]},
     NP + 'spec.ingress[0].ports[0].port: Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, '
     "0-9), and hyphens (-)"),
    ({"ingress": [{"ports": [{"port": "a-very-long-port-name"}]}]},
     NP + 'spec.ingress[0].ports[0].port: Invalid value: "a-very-long-port-name": must be no more than 15 characters'),
    ({"ingress": [{"ports": [{"port": 80, "protocol": "SCTP"}]}]},
     NP + 'spec.ingress[0].ports[0].protocol: Unsupported value: "SCTP": supported values: "TCP", "UDP"'),
    ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/24"]}}]}]},
     NP + 'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "11.0.0.0/24": must be a strict subset of `cidr`'),
    ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}}]}]},
     NP + 'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`'),
    ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0"}}]}]},
     NP + 'spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0": must be a valid CIDR value'),
    ({"ingress": [{"from": [{"ipBlock": {}}]}]}, NP + "spec.ingress[0].from[0].ipBlock.cidr: Required value"),
    ({"podSelector": {"matchLabels": {"app": "-web"}}},
     NP + 'spec.podSelector.matchLabels.app: Invalid value: "-web": a valid label must be an empty string'),
    ({"podSelector": {"matchExpressions": [{"key": "app", "operator": "Near"}]}},
     NP + 'spec.podSelector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator'),
    ({"ingress": {"from": []}}, NP + "spec.ingress: Invalid value: {'from': []}: must be a list of rules"),
    ({"podSelector": {}, "ingres": [{}]}, NP + 'strict decoding error: unknown field "spec.ingres" (known here: '
     "podSelector, policyTypes, ingress, egress)"),
    ({"ingress": [{"form": [{}]}]}, NP + 'strict decoding error: unknown field "spec.ingress[0].form"'),
    ({"egress": [{"to": [{"podselector": {}}]}]}, NP + 'strict decoding error: unknown field "spec.egress[0].to[0].podselector"'),
    ({"ingress": [{"ports": [{"prot": "TCP"}]}]}, NP + 'strict decoding error: unknown field "spec.ingress[0].ports[0].prot"'),
    ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "excepts": []}}]}]},
     NP + 'strict decoding error: unknown field "spec.ingress[0].from[0].ipBlock.excepts"'),
], ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None)
def test_the_api_servers_message_for_each_mistake(spec, message):
    with pytest.raises(InputError) as info:
        parsed(spec)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_a_policy_needs_a_name_and_a_valid_namespace():
    with pytest.raises(InputError, match="metadata.name"):
        parse_documents([{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {}, "spec": {}}])
    with pytest.raises(InputError, match='metadata.namespace: Invalid value: "Shop"'):
        parse_documents([netpol({}, namespace="Shop")])


def test_the_api_group_must_be_networking_v1():
    doc = netpol({})
    doc["apiVersion"] = "extensions/v1beta1"
    with pytest.raises(InputError, match="apiVersion"):
        parse_documents([doc])
