"""ClusterIP and NodePort allocation (podnet.services.allocator)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from podnet.core.errors import EXIT_BAD_INPUT, InputError
from podnet.k8s.workloads.allocator import (
    RangeFull,
    allocate_ip,
    allocate_node_port,
    check_requested_ip,
    check_requested_node_port,
    dns_service_ip,
    first_service_ip,
    static_band,
)
from podnet.k8s.workloads.manifests import InvalidObject

DEFAULT = IPv4Network("10.96.0.0/12")


def test_first_and_dns_addresses_follow_kubeadm():
    assert first_service_ip(DEFAULT) == IPv4Address("10.96.0.1")
    assert dns_service_ip(DEFAULT) == IPv4Address("10.96.0.10")
    assert dns_service_ip(IPv4Network("10.100.0.0/16")) == IPv4Address("10.100.0.10")
    # a /29 has 6 usable addresses: no tenth, so the last usable one
    assert dns_service_ip(IPv4Network("10.96.0.0/29")) == IPv4Address("10.96.0.6")


@pytest.mark.parametrize("cidr, band", [
    ("10.96.0.0/12", 256),   # 1M addresses / 16 is capped at 256
    ("10.96.0.0/20", 256),   # 4096 / 16 = 256
    ("10.96.0.0/22", 64),    # 1024 / 16
    ("10.96.0.0/24", 16),    # 256 / 16 = 16
    ("10.96.0.0/26", 16),    # at least 16
])
def test_static_band_size(cidr, band):
    assert static_band(IPv4Network(cidr)) == band


def test_allocation_is_deterministic_per_service_key():
    first = allocate_ip("default/web", DEFAULT, [])
    assert allocate_ip("default/web", DEFAULT, []) == first
    # the handout promise: the same lab gets the same address every time
    assert first == "10.107.164.13"
    others = {allocate_ip(f"default/svc-{i}", DEFAULT, []) for i in range(20)}
    assert len(others) == 20


def test_automatic_addresses_come_from_the_upper_band_inside_the_range():
    band = static_band(DEFAULT)
    for i in range(50):
        address = IPv4Address(allocate_ip(f"ns/svc-{i}", DEFAULT, []))
        assert address in DEFAULT
        offset = int(address) - int(DEFAULT.network_address)
        assert band < offset < DEFAULT.num_addresses - 1


def test_taken_address_is_skipped():
    first = allocate_ip("default/web", DEFAULT, [])
    second = allocate_ip("default/web", DEFAULT, [first])
    assert second != first
    assert IPv4Address(second) in DEFAULT
    # deterministic also when something is taken
    assert allocate_ip("default/web", DEFAULT, [first]) == second


def test_small_range_never_hands_out_network_broadcast_first_or_tenth_and_then_is_full():
    cidr = IPv4Network("10.96.0.0/28")  # 14 usable; the whole range is the lower band
    taken: list[str] = []
    for i in range(12):
        taken.append(allocate_ip(f"default/s{i}", cidr, taken))
    assert len(set(taken)) == 12
    assert set(taken) == {f"10.96.0.{n}" for n in range(2, 15)} - {"10.96.0.10"}
    with pytest.raises(RangeFull) as info:
        allocate_ip("default/one-more", cidr, taken)
    err = info.value
    assert isinstance(err, InputError)
    assert err.exit_code == EXIT_BAD_INPUT
    assert str(err) == "Internal error occurred: failed to allocate a serviceIP: range is full (10.96.0.0/28)"
    assert err.allowed == "range is full"


def test_upper_band_exhausted_falls_back_to_the_lower_band():
    cidr = IPv4Network("10.96.0.0/24")  # band 16: offsets 1-16 lower, 17-254 upper
    upper = [str(cidr.network_address + n) for n in range(17, 255)]
    address = allocate_ip("default/web", cidr, upper)
    offset = int(IPv4Address(address)) - int(cidr.network_address)
    assert 2 <= offset <= 16 and offset != 10


def test_requested_ip_inside_and_free_is_accepted():
    assert check_requested_ip("web", "10.96.0.50", DEFAULT, ["10.96.0.10"]) == "10.96.0.50"


@pytest.mark.parametrize("requested", ["10.0.0.5", "10.112.0.1", "10.96.0.0", "10.111.255.255"])
def test_requested_ip_outside_the_range_or_not_usable(requested):
    with pytest.raises(InvalidObject) as info:
        check_requested_ip("web", requested, DEFAULT, [])
    assert str(info.value) == (
        f'The Service "web" is invalid: spec.clusterIP: Invalid value: "{requested}": provided IP is not in the '
        "valid range. The range of valid IPs is 10.96.0.0/12")
    assert isinstance(info.value, InputError)


def test_requested_ip_taken():
    with pytest.raises(InvalidObject) as info:
        check_requested_ip("web", "10.96.0.10", DEFAULT, iter(["10.96.0.10"]))
    assert str(info.value) == ('The Service "web" is invalid: spec.clusterIP: Invalid value: "10.96.0.10": '
                               "provided IP is already allocated")


def test_requested_ip_not_an_address():
    with pytest.raises(InvalidObject) as info:
        check_requested_ip("web", "10.96.0.300", DEFAULT, [])
    assert str(info.value) == ('The Service "web" is invalid: spec.clusterIP: Invalid value: "10.96.0.300": '
                               "must be a valid IP address, (e.g. 10.9.8.7)")


def test_node_port_allocation_deterministic_in_range_and_avoids_taken():
    port = allocate_node_port("default/web::80", [])
    assert 30000 <= port <= 32767
    assert allocate_node_port("default/web::80", []) == port
    other = allocate_node_port("default/web::80", [port])
    assert other != port and 30000 <= other <= 32767


def test_node_port_range_full():
    with pytest.raises(RangeFull) as info:
        allocate_node_port("default/web::80", range(30000, 32768))
    assert str(info.value) == "Internal error occurred: failed to allocate a nodePort: range is full (30000-32767)"
    # one free port left: that one is chosen
    assert allocate_node_port("default/web::80", [p for p in range(30000, 32768) if p != 31234]) == 31234


def test_requested_node_port():
    assert check_requested_node_port("web", 0, 30080, [30081]) == 30080
    with pytest.raises(InvalidObject) as info:
        check_requested_node_port("web", 1, 30080, [30080])
    assert str(info.value) == ('The Service "web" is invalid: spec.ports[1].nodePort: Invalid value: 30080: '
                               "provided port is already allocated")
    assert isinstance(info.value, InputError)
