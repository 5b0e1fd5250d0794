"""host-gw desired routes and the route diff (podnet.routing.hostgw, podnet.reconcile)."""

from ipaddress import IPv4Address, IPv4Network

from podnet.lab.initial import initial_state
from podnet.k8s.routing.diff import diff_routes
from podnet.core.netobjects import UNDERLAY_IFNAME, Route
from podnet.k8s.routing.hostgw import desired_routes


def R(dst, gw, dev="eth0"):
    return Route(IPv4Network(dst), IPv4Address(gw) if gw else None, dev)


def test_desired_routes_for_node_1(three_node_state):
    assert UNDERLAY_IFNAME == "eth0"
    assert desired_routes(three_node_state, "node-1") == {
        R("10.244.1.0/24", "192.168.77.12"),
        R("10.244.2.0/24", "192.168.77.13"),
    }


def test_desired_routes_for_node_3(three_node_state):
    assert desired_routes(three_node_state, "node-3") == {
        R("10.244.0.0/24", "192.168.77.11"),
        R("10.244.1.0/24", "192.168.77.12"),
    }


def test_nodes_without_pod_cidr_contribute_no_route(make_spec):
    state = initial_state(make_spec(3, cluster_cidr="10.244.0.0/23", node_cidr_mask_size=24))
    assert state.nodes["node-3"].pod_cidr is None
    assert desired_routes(state, "node-1") == {R("10.244.1.0/24", "192.168.77.12")}
    # The CIDR-less node still learns routes to the others.
    assert len(desired_routes(state, "node-3")) == 2


def test_single_node_has_no_routes(make_spec):
    assert desired_routes(initial_state(make_spec(1)), "node-1") == set()


def test_route_str():
    assert str(R("10.244.1.0/24", "192.168.77.12")) == "10.244.1.0/24 via 192.168.77.12 dev eth0"
    assert str(R("10.244.1.0/24", None, "cni0")) == "10.244.1.0/24 dev cni0"


def test_diff_identical_is_empty():
    routes = {R("10.244.1.0/24", "192.168.77.12"), R("10.244.2.0/24", "192.168.77.13")}
    diff = diff_routes(routes, set(routes))
    assert diff.empty
    assert diff.add == [] and diff.delete == []


def test_diff_adds_missing_sorted():
    a, b = R("10.244.2.0/24", "192.168.77.13"), R("10.244.1.0/24", "192.168.77.12")
    diff = diff_routes({a, b}, set())
    assert diff.add == [b, a]
    assert diff.delete == []
    assert not diff.empty


def test_diff_deletes_unwanted():
    stale = R("10.244.9.0/24", "192.168.77.19")
    keep = R("10.244.1.0/24", "192.168.77.12")
    diff = diff_routes({keep}, {keep, stale})
    assert diff.add == [] and diff.delete == [stale]


def test_diff_changed_gateway_deletes_and_readds():
    old = R("10.244.1.0/24", "192.168.77.99")
    new = R("10.244.1.0/24", "192.168.77.12")
    diff = diff_routes({new}, {old})
    assert diff.delete == [old] and diff.add == [new]


def test_diff_changed_device_and_direct_route():
    wanted = R("10.244.1.0/24", "192.168.77.12")
    direct = R("10.244.1.0/24", None, "eth1")
    diff = diff_routes({wanted}, {direct})
    assert diff.delete == [direct] and diff.add == [wanted]
