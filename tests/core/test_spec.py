"""build_spec / spec_from_sources validation and ClusterSpec JSON (podnet.spec)."""

from ipaddress import IPv4Network

import pytest

from podnet.core.errors import EXIT_BAD_INPUT, InputError
from podnet.core.spec import (
    CNI_CHOICES,
    ClusterSpec,
    NodeSpec,
    PodSpec,
    build_spec,
    with_cni,
)
from podnet.core.topology import spec_from_sources


def test_defaults_from_no_sources():
    spec = spec_from_sources(None, {})
    assert spec.name == "podnet"
    assert spec.cluster_cidr == IPv4Network("10.244.0.0/16")
    assert spec.node_cidr_mask_size == 24
    assert spec.service_cidr == IPv4Network("10.96.0.0/12")
    assert spec.underlay_cidr == IPv4Network("192.168.77.0/24")
    assert spec.cni == "bridge"
    assert spec.routing == "host-gw"
    assert spec.max_pods == 110
    assert spec.nodes == (
        NodeSpec("node-1", "control-plane"),
        NodeSpec("node-2", "worker"),
        NodeSpec("node-3", "worker"),
    )
    assert spec.pods == (
        PodSpec("pod-1-1", "node-1"),
        PodSpec("pod-1-2", "node-1"),
        PodSpec("pod-2-1", "node-2"),
        PodSpec("pod-2-2", "node-2"),
        PodSpec("pod-3-1", "node-3"),
        PodSpec("pod-3-2", "node-3"),
    )


def test_none_overrides_are_ignored():
    assert spec_from_sources(None, {"cni": None, "node_count": None, "name": None}) == spec_from_sources(None, {})


def test_pods_per_node_zero_is_valid():
    spec = spec_from_sources(None, {"pods_per_node": 0})
    assert spec.pods == ()
    assert len(spec.nodes) == 3


def test_node_count_ten():
    spec = spec_from_sources(None, {"node_count": 10, "pods_per_node": 1})
    assert [n.name for n in spec.nodes] == [f"node-{i}" for i in range(1, 11)]
    assert [n.role for n in spec.nodes] == ["control-plane"] + ["worker"] * 9
    assert spec.pods[-1] == PodSpec("pod-10-1", "node-10")


@pytest.mark.parametrize("count", [0, 251, -3, "many", True])
def test_node_count_out_of_range(count):
    with pytest.raises(InputError) as info:
        spec_from_sources(None, {"node_count": count})
    assert info.value.field == "nodes"


def test_duplicate_node_names_rejected():
    with pytest.raises(InputError, match="already used by a node"):
        build_spec(nodes=[("a", None), ("a", None)])


def test_pod_name_clashing_with_node_name_rejected():
    with pytest.raises(InputError) as info:
        build_spec(nodes=[("a", None)], pods=[("a", None)])
    assert info.value.field == "pod name"
    assert "already used by a node" in str(info.value)


def test_duplicate_pod_names_rejected():
    with pytest.raises(InputError, match="already used by a pod"):
        build_spec(nodes=[("n", None)], pods=[("p", None), ("p", "n")])


@pytest.mark.parametrize("where", ["node", "pod"])
def test_reserved_name_underlay_rejected(where):
    nodes = [("underlay", None)] if where == "node" else [("n", None)]
    pods = [("underlay", None)] if where == "pod" else []
    with pytest.raises(InputError, match="reserved"):
        build_spec(nodes=nodes, pods=pods)


def test_unknown_node_name_rejected():
    with pytest.raises(InputError) as info:
        build_spec(nodes=[("n1", None)], pods=[("p", "n2")])
    assert info.value.field == "spec.nodeName of pod p"
    assert info.value.value == "n2"


@pytest.mark.parametrize("node_name", [["n1"], {"name": "n1"}, 7])
def test_non_string_node_name_of_pod_is_input_error(node_name):
    # From YAML "nodeName: [n1]"; must be InputError, not TypeError (unhashable).
    with pytest.raises(InputError):
        build_spec(nodes=[("n1", None)], pods=[("p", node_name)])


def test_role_defaults_to_worker_and_is_validated():
    spec = build_spec(nodes=[("n1", None)])
    assert spec.nodes[0].role == "worker"
    with pytest.raises(InputError, match="control-plane or worker"):
        build_spec(nodes=[("n1", "master")])


def test_at_least_one_node():
    with pytest.raises(InputError, match="at least 1 node"):
        build_spec(nodes=[])


@pytest.mark.parametrize("cni", CNI_CHOICES)
def test_every_cni_choice_accepted(cni):
    assert build_spec(nodes=[("n", None)], cni=cni).cni == cni


@pytest.mark.parametrize("cni", ["calico", "", None, "Bridge"])
def test_unknown_cni_rejected(cni):
    with pytest.raises(InputError) as info:
        build_spec(nodes=[("n", None)], cni=cni)
    assert info.value.field == "cni"


def test_unknown_routing_rejected():
    with pytest.raises(InputError) as info:
        build_spec(nodes=[("n", None)], routing="calico-bgp")
    assert info.value.field == "routing"


def test_with_cni_validates_and_replaces():
    spec = build_spec(nodes=[("n", None)])
    assert with_cni(spec, "ptp").cni == "ptp"
    with pytest.raises(InputError):
        with_cni(spec, "flannel")


def test_underlay_slash_28_holds_four_nodes():
    nodes = [(f"n{i}", None) for i in range(4)]
    spec = build_spec(underlay_cidr="192.168.77.0/28", nodes=nodes)
    assert len(spec.nodes) == 4
    with pytest.raises(InputError) as info:
        build_spec(underlay_cidr="192.168.77.0/28", nodes=nodes + [("n4", None)])
    assert info.value.field == "nodes"
    assert "at most 4 nodes" in str(info.value)


def test_underlay_overlapping_reserved_range_rejected_by_build_spec():
    with pytest.raises(InputError) as info:
        build_spec(underlay_cidr="192.168.60.0/24", nodes=[("n", None)])
    assert info.value.field == "underlay-cidr"


def test_cluster_and_service_overlap_rejected_by_build_spec():
    with pytest.raises(InputError) as info:
        build_spec(cluster_cidr="10.0.0.0/8", node_cidr_mask_size=24, nodes=[("n", None)])
    assert info.value.field == "service-cluster-ip-range"


def test_service_range_must_hold_two_addresses():
    with pytest.raises(InputError, match="/30 or larger"):
        build_spec(service_cidr="10.96.0.0/31", nodes=[("n", None)])


def test_input_error_exit_code_is_2():
    with pytest.raises(InputError) as info:
        build_spec(name="Bad_Name", nodes=[("n", None)])
    assert info.value.exit_code == EXIT_BAD_INPUT == 2


def test_lab_name_too_long_rejected():
    with pytest.raises(InputError, match="lab name"):
        spec_from_sources(None, {"name": "x" * 41})


def test_cluster_spec_json_round_trip():
    spec = build_spec(
        name="lab1",
        cluster_cidr="10.200.0.0/16",
        node_cidr_mask_size=26,
        service_cidr="10.32.0.0/16",
        underlay_cidr="192.168.80.0/24",
        cni="ptp",
        max_pods=30,
        nodes=[("cp", "control-plane"), ("w1", "worker")],
        pods=[("p1", "w1"), ("p2", None)],
    )
    data = spec.to_json()
    assert data["clusterCIDR"] == "10.200.0.0/16"
    assert data["pods"] == [{"name": "p1", "nodeName": "w1"}, {"name": "p2", "nodeName": None}]
    again = ClusterSpec.from_json(data)
    assert again == spec
    assert again.to_json() == data
