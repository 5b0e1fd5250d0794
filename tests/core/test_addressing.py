"""Strict CIDR/int parsing, kubeadm node-mask rules, overlap checks (podnet.addressing)."""

from ipaddress import IPv4Address, IPv4Network

import pytest

from podnet.core.addressing import (
    check_no_overlap,
    check_node_mask,
    check_underlay,
    nth_host,
    parse_int,
    parse_network,
)
from podnet.core.errors import InputError


def test_parse_network_valid():
    assert parse_network("cluster-cidr", "10.244.0.0/16") == IPv4Network("10.244.0.0/16")


def test_parse_network_passes_network_objects_through():
    net = IPv4Network("10.1.0.0/16")
    assert parse_network("cluster-cidr", net) is net


def test_parse_network_host_bits_set_names_the_network():
    with pytest.raises(InputError) as info:
        parse_network("cluster-cidr", "10.244.1.0/16")
    msg = str(info.value)
    assert info.value.field == "cluster-cidr"
    assert "host bits" in msg
    assert "10.244.0.0/16" in msg


@pytest.mark.parametrize("value", ["fd00::/64", "2001:db8::/32", "fd00::1/64"])
def test_parse_network_rejects_ipv6(value):
    with pytest.raises(InputError, match="IPv4"):
        parse_network("cluster-cidr", value)


@pytest.mark.parametrize(
    "value", ["banana/16", "10.244.0.0/33", "300.1.0.0/16", "10.244.0.0/", "/16", "10.244.0.0/x"]
)
def test_parse_network_rejects_garbage(value):
    with pytest.raises(InputError, match="IPv4 CIDR"):
        parse_network("service-cluster-ip-range", value)


@pytest.mark.parametrize("value", ["10.244.0.0", "10.244.0.1", "", None, 16, ["10.0.0.0/8"]])
def test_parse_network_requires_a_slash_and_a_string(value):
    with pytest.raises(InputError) as info:
        parse_network("cluster-cidr", value)
    assert "IPv4 CIDR" in str(info.value)


@pytest.mark.parametrize("value,expected", [(1, 1), (110, 110), ("24", 24), (5000, 5000), (3.0, 3)])
def test_parse_int_accepts_whole_numbers_in_bounds(value, expected):
    assert parse_int("max-pods", value, 1, 5000) == expected


@pytest.mark.parametrize("value", [0, 5001, -1, "0"])
def test_parse_int_bounds(value):
    with pytest.raises(InputError, match="from 1 to 5000"):
        parse_int("max-pods", value, 1, 5000)


@pytest.mark.parametrize("value", [True, False])
def test_parse_int_rejects_bools(value):
    with pytest.raises(InputError):
        parse_int("max-pods", value, 0, 5000)


@pytest.mark.parametrize("value", [2.5, "2.5", "two", None, [], float("nan")])
def test_parse_int_rejects_non_whole_numbers(value):
    with pytest.raises(InputError) as info:
        parse_int("pods-per-node", value, 0, 100)
    assert info.value.field == "pods-per-node"


@pytest.mark.parametrize("value", [float("inf"), float("-inf")])
def test_parse_int_rejects_infinity_as_input_error(value):
    # YAML ".inf" reaches parse_int as float("inf"); it must be bad input (exit 2),
    # not an OverflowError traceback.
    with pytest.raises(InputError):
        parse_int("max-pods", value, 1, 5000)


def test_node_mask_shorter_than_cluster_mask():
    with pytest.raises(InputError) as info:
        check_node_mask(IPv4Network("10.244.0.0/16"), 8)
    assert info.value.field == "node-cidr-mask-size"
    assert (
        "the size of pod subnet with mask 16 is smaller than the size of node subnet with mask 8"
        in str(info.value)
    )


def test_node_mask_more_than_16_bits_longer():
    with pytest.raises(InputError, match="at most 16 bits longer"):
        check_node_mask(IPv4Network("10.0.0.0/8"), 25)


def test_node_mask_exactly_16_bits_longer_is_allowed():
    check_node_mask(IPv4Network("10.0.0.0/8"), 24)


@pytest.mark.parametrize("mask", [31, 32])
def test_node_mask_31_and_32_rejected(mask):
    with pytest.raises(InputError, match="at most 30"):
        check_node_mask(IPv4Network("10.244.0.0/16"), mask)


@pytest.mark.parametrize("cluster,mask", [("10.244.0.0/16", 24), ("10.244.0.0/16", 16), ("10.244.0.0/22", 30)])
def test_valid_node_masks(cluster, mask):
    check_node_mask(IPv4Network(cluster), mask)


def test_no_overlap_accepts_disjoint_ranges():
    check_no_overlap(
        {
            "cluster-cidr": IPv4Network("10.244.0.0/16"),
            "service-cluster-ip-range": IPv4Network("10.96.0.0/12"),
            "underlay-cidr": IPv4Network("192.168.77.0/24"),
        }
    )


def test_service_overlapping_cluster_names_service_field():
    with pytest.raises(InputError) as info:
        check_no_overlap(
            {
                "cluster-cidr": IPv4Network("10.0.0.0/8"),
                "service-cluster-ip-range": IPv4Network("10.96.0.0/12"),
            }
        )
    assert info.value.field == "service-cluster-ip-range"
    assert "overlaps cluster-cidr 10.0.0.0/8" in str(info.value)


def test_underlay_overlapping_cluster_names_underlay_field():
    with pytest.raises(InputError) as info:
        check_no_overlap(
            {
                "cluster-cidr": IPv4Network("10.244.0.0/16"),
                "service-cluster-ip-range": IPv4Network("10.96.0.0/12"),
                "underlay-cidr": IPv4Network("10.244.5.0/24"),
            }
        )
    assert info.value.field == "underlay-cidr"


@pytest.mark.parametrize(
    "underlay", ["10.0.2.0/24", "10.0.0.0/16", "192.168.56.0/24", "192.168.60.0/24", "172.17.0.0/16", "172.17.5.0/24", "172.16.0.0/12"]
)
def test_underlay_must_avoid_virtualbox_and_docker(underlay):
    with pytest.raises(InputError) as info:
        check_underlay(IPv4Network(underlay))
    assert info.value.field == "underlay-cidr"
    assert "overlaps" in str(info.value)


@pytest.mark.parametrize("underlay", ["192.168.77.0/24", "192.168.64.0/24", "10.0.3.0/24", "172.18.0.0/16"])
def test_underlay_clear_of_reserved_ranges(underlay):
    check_underlay(IPv4Network(underlay))


def test_nth_host():
    assert nth_host(IPv4Network("192.168.77.0/24"), 11) == IPv4Address("192.168.77.11")
