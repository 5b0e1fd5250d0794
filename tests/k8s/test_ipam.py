"""Node podCIDR allocation and host-local Pod IPs (podnet.ipam)."""

import os
import stat
from ipaddress import IPv4Address, IPv4Network

import pytest

from podnet.core.cidr import PodRange
from podnet.k8s.cni.host_local import LAST_RESERVED, HostLocalStore, RangeExhausted
from podnet.core.cidr import CidrNotAvailable, RangeAllocator

# --- RangeAllocator ---------------------------------------------------------------------


def test_capacity_and_first_slices():
    alloc = RangeAllocator(IPv4Network("10.244.0.0/16"), 24)
    assert alloc.capacity == 256
    assert alloc.allocate("n1") == IPv4Network("10.244.0.0/24")
    assert alloc.allocate("n2") == IPv4Network("10.244.1.0/24")
    assert alloc.allocate("n3") == IPv4Network("10.244.2.0/24")


def test_non_byte_aligned_slices():
    alloc = RangeAllocator(IPv4Network("10.244.0.0/16"), 26)
    assert alloc.capacity == 1024
    assert [alloc.allocate(f"n{i}") for i in range(5)][-1] == IPv4Network("10.244.1.0/26")


def test_exhaustion_raises_cidr_not_available():
    alloc = RangeAllocator(IPv4Network("10.244.0.0/23"), 24)
    alloc.allocate("n1")
    alloc.allocate("n2")
    with pytest.raises(CidrNotAvailable) as info:
        alloc.allocate("n3")
    assert "failed to allocate cidr from cluster cidr" in str(info.value)
    assert "10.244.0.0/23" in str(info.value)
    assert info.value.node == "n3"


def test_release_then_reallocate_gives_released_slice():
    alloc = RangeAllocator(IPv4Network("10.244.0.0/16"), 24)
    for i in range(4):
        alloc.allocate(f"n{i}")
    alloc.release(IPv4Network("10.244.1.0/24"))
    assert alloc.allocate("again") == IPv4Network("10.244.1.0/24")
    assert alloc.allocate("next") == IPv4Network("10.244.4.0/24")


def test_occupy_skips_slice():
    alloc = RangeAllocator(IPv4Network("10.244.0.0/16"), 24)
    alloc.occupy(IPv4Network("10.244.0.0/24"))
    alloc.occupy(IPv4Network("10.244.2.0/24"))
    assert alloc.allocate("a") == IPv4Network("10.244.1.0/24")
    assert alloc.allocate("b") == IPv4Network("10.244.3.0/24")


def test_single_slice_cluster():
    alloc = RangeAllocator(IPv4Network("10.244.0.0/24"), 24)
    assert alloc.capacity == 1
    assert alloc.allocate("a") == IPv4Network("10.244.0.0/24")
    with pytest.raises(CidrNotAvailable):
        alloc.allocate("b")


# --- PodRange ------------------------------------------------------------------------------


def test_pod_range_slash_24():
    rng = PodRange(IPv4Network("10.244.1.0/24"))
    assert rng.first == IPv4Address("10.244.1.1")
    assert rng.last == IPv4Address("10.244.1.254")
    assert rng.gateway == IPv4Address("10.244.1.1")
    assert rng.pod_capacity == 253
    cands = list(rng.candidates(None))
    assert cands[0] == IPv4Address("10.244.1.2")
    assert cands[-1] == IPv4Address("10.244.1.254")
    assert rng.gateway not in cands
    assert len(cands) == 253


def test_pod_range_slash_30_has_one_address():
    rng = PodRange(IPv4Network("10.244.0.0/30"))
    assert rng.pod_capacity == 1
    assert list(rng.candidates(None)) == [IPv4Address("10.244.0.2")]


def test_candidates_continue_after_last_and_wrap():
    rng = PodRange(IPv4Network("10.244.0.0/29"))  # .1 gateway, .2-.6 pods
    assert list(rng.candidates(IPv4Address("10.244.0.4"))) == [
        IPv4Address(f"10.244.0.{i}") for i in (5, 6, 2, 3, 4)
    ]
    assert list(rng.candidates(IPv4Address("10.244.0.6")))[0] == IPv4Address("10.244.0.2")
    # A last-reserved IP outside the range restarts at the beginning.
    assert list(rng.candidates(IPv4Address("10.9.9.9")))[0] == IPv4Address("10.244.0.2")


# --- HostLocalStore ------------------------------------------------------------------------


@pytest.fixture
def store24(tmp_path):
    return HostLocalStore(str(tmp_path / "cni-net"), PodRange(IPv4Network("10.244.1.0/24")))


def test_first_allocation_skips_gateway(store24):
    assert store24.allocate("c1", "eth0") == IPv4Address("10.244.1.2")
    assert store24.allocate("c2", "eth0") == IPv4Address("10.244.1.3")


def test_lease_file_content_mode_and_last_reserved(store24):
    ip = store24.allocate("abc123", "eth0")
    path = os.path.join(store24.data_dir, str(ip))
    with open(path, "rb") as handle:
        assert handle.read() == b"abc123\r\neth0"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(os.path.join(store24.data_dir, LAST_RESERVED)) as handle:
        assert handle.read().strip() == str(ip)


def test_slash_30_exhausts_with_host_local_message(tmp_path):
    store = HostLocalStore(str(tmp_path / "d"), PodRange(IPv4Network("10.244.0.0/30")))
    assert store.allocate("c1", "eth0") == IPv4Address("10.244.0.2")
    with pytest.raises(RangeExhausted) as info:
        store.allocate("c2", "eth0")
    assert str(info.value) == (
        "failed to allocate for range 0: no IP addresses available in range set: "
        "10.244.0.1-10.244.0.2"
    )


def _drop_lease(store, ip):
    """Free an address the way a lost lease would, without going through release()."""
    os.remove(os.path.join(store.data_dir, str(ip)))


def test_allocation_continues_after_last_reserved_not_lowest_free(store24):
    a = store24.allocate("c1", "eth0")
    store24.allocate("c2", "eth0")
    _drop_lease(store24, a)
    assert store24.allocate("c3", "eth0") == IPv4Address("10.244.1.4")


def test_allocation_wraps_to_freed_address(tmp_path):
    store = HostLocalStore(str(tmp_path / "d"), PodRange(IPv4Network("10.244.0.0/29")))
    ips = [store.allocate(f"c{i}", "eth0") for i in range(5)]
    assert ips == [IPv4Address(f"10.244.0.{i}") for i in range(2, 7)]
    _drop_lease(store, ips[1])  # frees .3
    assert store.allocate("c9", "eth0") == IPv4Address("10.244.0.3")
    with pytest.raises(RangeExhausted):
        store.allocate("c10", "eth0")


def test_existing_lease_files_are_skipped(store24):
    os.makedirs(store24.data_dir)
    with open(os.path.join(store24.data_dir, "10.244.1.2"), "w") as handle:
        handle.write("other\r\neth0")
    assert store24.allocate("c1", "eth0") == IPv4Address("10.244.1.3")


def test_release_removes_lease_file(store24):
    ip = store24.allocate("c1", "eth0")
    path = os.path.join(store24.data_dir, str(ip))
    assert os.path.exists(path)
    assert store24.lookup("c1", "eth0") == ip
    assert store24.release("c1", "eth0") == ip
    assert not os.path.exists(path)
    assert store24.lookup("c1", "eth0") is None


def test_release_matches_ifname_too(store24):
    ip = store24.allocate("c1", "eth0")
    assert store24.release("c1", "eth1") is None
    assert store24.release("c1", "eth0") == ip


def test_lookup_finds_lease_written_by_reference_plugin(store24):
    os.makedirs(store24.data_dir)
    with open(os.path.join(store24.data_dir, "10.244.1.7"), "wb") as handle:
        handle.write(b"0123abcd\r\neth0")
    assert store24.lookup("0123abcd", "eth0") == IPv4Address("10.244.1.7")


def test_release_unknown_container_returns_none(store24):
    ip = store24.allocate("c1", "eth0")
    assert store24.release("nobody", "eth0") is None
    assert os.path.exists(os.path.join(store24.data_dir, str(ip)))


def test_release_without_data_dir_is_idempotent(tmp_path):
    store = HostLocalStore(str(tmp_path / "never"), PodRange(IPv4Network("10.244.0.0/24")))
    assert store.release("c1", "eth0") is None
    assert not os.path.exists(store.data_dir)
