"""The sizing calculator behind ``podnet plan`` (podnet.sizing): hand-computed figures, the
kubeadm rules, growth limits and their fixes, and agreement with the allocators themselves."""

import dataclasses
import json
import os
import subprocess
import sys
from ipaddress import IPv4Address, IPv4Network

import pytest

from podnet.core.errors import InputError
from podnet.core.capacity import LIMITED_BY_MAX_PODS, LIMITED_BY_SLICE, node_slices, pod_addresses, service_ips, vpc_addresses
from podnet.core.cidr import CidrNotAvailable, PodRange, RangeAllocator
from podnet.core.sizing import Plan, plan
from podnet.k8s.cni.host_local import HostLocalStore, RangeExhausted
from podnet.views.plan import render

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# --- hand-computed figures ---------------------------------------------------------------------


def test_defaults():
    p = plan()
    assert p.cluster_cidr == IPv4Network("10.244.0.0/16")
    assert p.node_mask == 24
    assert p.service_cidr == IPv4Network("10.96.0.0/12")
    assert p.max_pods == 110
    assert p.node_slices == 256  # 2^(24-16)
    assert p.addresses_per_slice == 256
    assert p.pod_addresses_per_node == 253  # 256 - network - gateway (.1) - broadcast
    assert p.pods_per_node == 110  # min(253, 110)
    assert p.pods_limited_by == LIMITED_BY_MAX_PODS
    assert p.total_pods == 28160  # 256 x 110
    assert p.services == 1048574  # 2^20 - network - broadcast
    assert p.kubernetes_service_ip == IPv4Address("10.96.0.1")
    assert p.dns_ip == IPv4Address("10.96.0.10")
    assert p.valid and all(ok for _, ok, _ in p.checks)
    assert p.warnings == ()
    assert p.limits == () and p.vpc is None


def test_kind_service_range():
    p = plan("10.244.0.0/16", 24, "10.96.0.0/16")
    assert p.services == 65534
    assert p.dns_ip == IPv4Address("10.96.0.10")


def test_slash_26_nodes_are_capped_by_the_slice():
    p = plan("10.244.0.0/16", 26)
    assert p.node_slices == 1024  # 2^10
    assert p.addresses_per_slice == 64
    assert p.pod_addresses_per_node == 61
    assert p.pods_per_node == 61
    assert p.pods_limited_by == LIMITED_BY_SLICE
    assert p.total_pods == 62464  # 1024 x 61
    assert any("addresses, not maxPods, cap each node at 61" in w for w in p.warnings)


def test_slash_22_with_slash_24_fits_four_nodes():
    p = plan("10.244.0.0/22", 24)
    assert p.node_slices == 4
    assert p.pods_per_node == 110
    assert p.total_pods == 440
    assert any("only 4 node slices" in w and "node 5 gets CIDRNotAvailable" in w for w in p.warnings)


def test_slash_30_gives_one_pod_per_node():
    p = plan("10.244.0.0/16", 30)
    assert p.node_slices == 16384  # 2^14
    assert p.addresses_per_slice == 4
    assert p.pod_addresses_per_node == 1
    assert p.pods_per_node == 1
    assert p.pods_limited_by == LIMITED_BY_SLICE
    assert p.total_pods == 16384


def test_max_pods_below_the_slice_and_equal_to_it():
    assert plan(max_pods=30).pods_per_node == 30
    p = plan("10.244.0.0/16", 26, max_pods=61)  # a tie counts as maxPods
    assert (p.pods_per_node, p.pods_limited_by) == (61, LIMITED_BY_MAX_PODS)


def test_max_pods_above_the_tested_figure_warns():
    p = plan(max_pods=250)
    assert p.pods_per_node == 250 and p.total_pods == 256 * 250
    assert any("above 110" in w for w in p.warnings)


def test_cli_strings_are_accepted():
    p = plan("10.244.0.0/16", "25", "10.96.0.0/16", "64", nodes="10", pods="100", services="5")
    assert (p.node_mask, p.max_pods, p.target_nodes, p.target_pods, p.target_services) == (25, 64, 10, 100, 5)
    assert p.pods_per_node == 64 and p.node_slices == 512


# --- kubeadm rules -----------------------------------------------------------------------------


def test_node_mask_shorter_than_the_cluster_mask_is_rejected():
    with pytest.raises(InputError) as info:
        plan("10.244.0.0/16", 8)
    assert info.value.field == "node-cidr-mask-size" and info.value.value == 8
    assert "the size of pod subnet with mask 16 is smaller than the size of node subnet with mask 8" in str(info.value)


def test_node_mask_more_than_16_bits_longer_is_rejected():
    with pytest.raises(InputError) as info:
        plan("10.0.0.0/8", 28)
    assert info.value.field == "node-cidr-mask-size" and info.value.value == 28
    assert "at most 16 bits longer than the cluster CIDR mask /8" in str(info.value)


def test_node_mask_16_bits_longer_is_the_kubeadm_maximum():
    p = plan("10.0.0.0/8", 24, "172.16.0.0/12")
    assert p.node_slices == 65536


def test_node_mask_31_is_rejected_by_podnet():
    with pytest.raises(InputError, match="at most 30"):
        plan("10.244.0.0/16", 31)


def test_service_range_larger_than_slash_12_fails_the_kubeadm_check():
    p = plan(service_cidr="10.0.0.0/8", cluster_cidr="172.16.0.0/16")
    failed = [c for c in p.checks if not c.ok]
    assert len(failed) == 1
    assert "specified service subnet is too large; for 32-bit addresses, the mask must be >= 12" in failed[0].detail
    assert not p.valid
    assert p.services == 2 ** 24 - 2
    assert any("kubeadm init would refuse" in w for w in p.warnings)
    assert p.to_json()["valid"] is False


def test_service_range_below_10_addresses_has_no_dns_ip():
    p = plan(service_cidr="10.96.0.0/29")
    assert p.services == 6 and p.dns_ip is None
    assert [c.detail for c in p.checks if not c.ok] == [
        "subnet with 8 address(es) is too small, the minimum is 10"
    ]
    small = plan(service_cidr="10.96.0.0/28")  # 16 addresses: .10 exists
    assert small.valid and small.dns_ip == IPv4Address("10.96.0.10") and small.services == 14


def test_pod_subnet_below_14_addresses_fails_the_kubeadm_check():
    p = plan("10.244.0.0/29", 30)
    assert p.node_slices == 2 and p.pods_per_node == 1
    assert [c.detail for c in p.checks if not c.ok] == [
        "subnet with 8 address(es) is too small, the minimum is 14"
    ]
    assert plan("10.244.0.0/28", 28).valid


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"cluster_cidr": "10.244.1.0/16"}, "cluster-cidr"),
        ({"service_cidr": "fd00::/108"}, "service-cluster-ip-range"),
        ({"service_cidr": "10.96.0.0/31"}, "service-cluster-ip-range"),
        ({"cluster_cidr": "10.96.0.0/16"}, "service-cluster-ip-range"),  # overlaps the Service range
        ({"node_cidr_mask_size": "x"}, "node-cidr-mask-size"),
        ({"max_pods": 0}, "max-pods"),
        ({"max_pods": True}, "max-pods"),
        ({"nodes": 0}, "nodes"),
        ({"pods": -1}, "pods"),
        ({"services": "many"}, "services"),
        ({"vpc_subnet": "10.0.0.0/29"}, "vpc-subnet"),
        ({"vpc_subnet": "10.0.0.0/8"}, "vpc-subnet"),
        ({"vpc_subnet": "10.244.0.0/24"}, "vpc-subnet"),  # inside the cluster CIDR
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(InputError) as info:
        plan(**kwargs)
    assert info.value.field == field
    assert info.value.exit_code == 2


# --- growth limits -----------------------------------------------------------------------------


def test_growth_to_300_nodes_hits_the_node_slices():
    p = plan(nodes=300)
    assert [limit.resource for limit in p.limits] == ["nodes"]
    limit = p.limits[0]
    assert (limit.wanted, limit.available) == (300, 256)
    assert limit.message == (
        "nodes: 300 wanted, the cluster CIDR 10.244.0.0/16 has 256 /24 node slices: node 257 gets CIDRNotAvailable"
    )
    assert limit.fixes == (
        "cluster CIDR 10.244.0.0/15 (512 node slices of 253 Pod addresses)",
        "node mask /25 (512 node slices of 125 Pod addresses)",  # 125 >= maxPods 110
    )
    assert limit.binds_at == pytest.approx(256 / 300)


def test_node_fixes_really_fix_it():
    assert plan(cluster_cidr="10.244.0.0/15", nodes=300).limits == ()
    assert plan(node_cidr_mask_size=25, nodes=300).limits == ()


def test_node_mask_fix_must_keep_max_pods():
    # /26 would give 1024 slices but only 61 Pod addresses < 110: only the cluster CIDR fix is offered
    # for 600 nodes... a /25 gives 512, too few; so the node-mask route is not offered at all.
    p = plan(nodes=600)
    assert p.limits[0].fixes == ("cluster CIDR 10.244.0.0/14 (1024 node slices of 253 Pod addresses)",)


def test_shorter_cluster_cidr_is_aligned_and_overlap_is_flagged():
    p = plan("10.96.0.0/16", 24, "10.97.0.0/16", nodes=300)
    assert p.limits[0].fixes[0] == (
        "cluster CIDR 10.96.0.0/15 (512 node slices of 253 Pod addresses); "
        "it overlaps the Service range 10.97.0.0/16: take another /15"
    )
    assert plan("10.244.0.0/16", 24, "10.96.0.0/12", nodes=3000).limits[0].fixes[0].startswith(
        "cluster CIDR 10.240.0.0/12 (4096 node slices"
    )


def test_growth_beyond_kubeadm_s_65536_slices_has_no_fix():
    p = plan("10.0.0.0/8", 24, "172.16.0.0/12", nodes=70000)
    assert p.limits[0].resource == "nodes"
    assert p.limits[0].fixes[0].startswith("none within kubeadm's rules")


def test_growth_to_20000_pods_on_100_nodes_hits_pods_per_node():
    p = plan(nodes=100, pods=20000)
    assert [limit.resource for limit in p.limits] == ["Pods per node"]
    limit = p.limits[0]
    assert (limit.wanted, limit.available) == (200, 110)
    assert "200 per node" in limit.message and "maxPods allows 110" in limit.message
    assert limit.fixes[0] == "raise maxPods to 200 (the /24 slice holds 253 Pod addresses)"
    assert limit.fixes[1] == "or spread the Pods over 182 nodes"  # ceil(20000 / 110)
    assert limit.binds_at == 0
    assert plan(nodes=100, pods=20000, max_pods=200).limits == ()


def test_pods_per_node_beyond_the_slice_needs_a_bigger_slice():
    p = plan("10.244.0.0/16", 26, nodes=100, pods=10000)  # 100 per node, a /26 holds 61
    limit = p.limits[0]
    assert limit.resource == "Pods per node" and (limit.wanted, limit.available) == (100, 61)
    assert "no IP addresses available in range set" in limit.message
    assert limit.fixes[0] == "node mask /25 (512 node slices of 125 Pod addresses)"
    assert plan("10.244.0.0/16", 25, nodes=100, pods=10000).limits == ()

    q = plan(nodes=100, pods=30000)  # 300 per node: more than a /24 holds and more than maxPods
    assert q.limits[0].fixes[0] == "node mask /23 (128 node slices of 509 Pod addresses) and maxPods 300"
    assert plan(node_cidr_mask_size=23, max_pods=300, nodes=100, pods=30000).limits == ()


def test_pods_without_a_node_count():
    p = plan(pods=30000)
    assert [limit.resource for limit in p.limits] == ["Pods"]
    limit = p.limits[0]
    assert limit.message == "Pods: 30000 wanted, 256 nodes x 110 = 28160"
    assert (limit.wanted, limit.available) == (30000, 28160)
    assert limit.fixes[0] == "raise maxPods to 118 (the /24 slice holds 253 Pod addresses)"  # ceil(30000/256)
    assert "cluster CIDR 10.244.0.0/15" in limit.fixes[1] and "for 273 nodes" in limit.fixes[1]
    assert plan(pods=28160).limits == ()


def test_services_limit_and_fix():
    p = plan("10.244.0.0/16", 24, "10.96.0.0/16", services=70000)
    limit = p.limits[0]
    assert limit.resource == "Services" and (limit.wanted, limit.available) == (70000, 65534)
    assert "Service 65535 fails" in limit.message
    assert limit.fixes == ("Service range 10.96.0.0/15 (131070 ClusterIPs)",)
    assert plan("10.244.0.0/16", 24, "10.96.0.0/15", services=70000).limits == ()
    assert plan(services=65534, service_cidr="10.96.0.0/16").limits == ()


def test_services_beyond_slash_12_have_no_single_range_fix():
    p = plan(services=2_000_000)
    assert p.limits[0].fixes[0].startswith("none in one range")


def test_limits_come_in_the_order_they_are_hit():
    p = plan(nodes=300, pods=30000, services=2_000_000)
    assert [limit.resource for limit in p.limits] == ["Services", "nodes", "Pods"]
    shares = [limit.binds_at for limit in p.limits]
    assert shares == sorted(shares)
    assert shares == [pytest.approx(1048574 / 2_000_000), pytest.approx(256 / 300), pytest.approx(28160 / 30000)]
    assert p.limits[2].message == "Pods: 30000 wanted, 256 nodes x 110 = 28160 (only 256 of the 300 nodes get a podCIDR)"

    q = plan(nodes=300, pods=60000)  # 200 per node binds at any size, before the node slices
    assert [limit.resource for limit in q.limits] == ["Pods per node", "nodes", "Pods"]
    assert [limit.binds_at for limit in q.limits] == [0, pytest.approx(256 / 300), pytest.approx(256 / 300)]

    r = plan(pods=60000, services=70000, service_cidr="10.96.0.0/16")  # no node count: all 256 slices hold Pods
    assert [(limit.resource, limit.binds_at) for limit in r.limits] == [
        ("Pods", pytest.approx(28160 / 60000)), ("Services", pytest.approx(65534 / 70000))
    ]


def test_a_target_that_fits_has_no_limits():
    p = plan(nodes=256, pods=28160, services=1000)
    assert p.limits == ()
    assert "fits: no limit is reached" in render(p)


def test_large_cluster_thresholds_warn():
    p = plan("10.0.0.0/8", 24, "172.16.0.0/12", nodes=6000, pods=200000)
    assert any("5000 nodes" in w for w in p.warnings)
    assert any("150000 Pods" in w for w in p.warnings)


# --- VPC-native --------------------------------------------------------------------------------


def test_vpc_subnet_slash_24_with_10_nodes():
    p = plan(nodes=10, vpc_subnet="10.0.0.0/24")
    v = p.vpc
    assert v is not None and v.subnet == IPv4Network("10.0.0.0/24")
    assert v.reserved == 5
    assert v.addresses == 251  # 256 - 5 (AWS: network, router, DNS, future use, broadcast)
    assert v.pods_after_nodes == 241  # 251 - 10 node addresses
    assert v.total_pods == 241  # below 10 x 110
    assert v.pods_limited_by == "VPC subnet"
    assert p.limits == ()
    assert any("caps the Pods at 241" in w for w in p.warnings)
    assert "podnet lab (--cni vpc)" in render(p)


def test_vpc_nodes_need_no_slice():
    # Four /24 slices would stop node 5; VPC-native nodes get no podCIDR, so only the subnet counts.
    p = plan("10.244.0.0/22", 24, nodes=10, pods=200, vpc_subnet="10.0.0.0/24")
    assert p.limits == ()
    assert any("cap nothing" in w for w in p.warnings)
    assert not any("only 4 node slices" in w for w in p.warnings)
    # A /26 slice holds 61, but a VPC-native node is capped by maxPods only.
    assert plan("10.244.0.0/16", 26, nodes=2, pods=200, vpc_subnet="10.0.0.0/24").limits == ()
    q = plan(nodes=2, pods=240, vpc_subnet="10.0.0.0/24")  # 120 per node > maxPods 110
    assert [limit.resource for limit in q.limits] == ["Pods per node"]
    assert q.limits[0].fixes == ("raise maxPods to 120", "or spread the Pods over 3 nodes")


def test_vpc_lab_figure_agrees_with_podnet_s_vpc_cni():
    from podnet.k8s.cni.vpc import pod_range  # the range podnet's --cni vpc configures (imports pyroute2)
    from podnet.core.spec import FIRST_NODE_HOST

    for subnet, nodes in (("192.168.77.0/24", 3), ("10.0.0.0/24", 10), ("10.0.0.0/28", 2), ("10.0.0.0/20", 250)):
        v = plan(nodes=nodes, vpc_subnet=subnet).vpc
        assert v.lab_pods == pod_range(IPv4Network(subnet), nodes, FIRST_NODE_HOST).pod_capacity
    assert plan(nodes=10, vpc_subnet="10.0.0.0/24").vpc.lab_pods == 256 - 1 - 11 - 10 == 234


def test_vpc_max_pods_can_bind_first():
    v = plan(nodes=2, vpc_subnet="10.0.0.0/24").vpc
    assert (v.pods_after_nodes, v.total_pods, v.pods_limited_by) == (249, 220, "maxPods")


def test_vpc_without_a_node_count():
    v = plan(vpc_subnet="10.0.0.0/28").vpc
    assert v.addresses == 11  # AWS: a /28 has 11 usable addresses
    assert v.nodes is None and v.pods_after_nodes is None and v.total_pods is None
    assert "give a node count" in render(plan(vpc_subnet="10.0.0.0/28"))


def test_vpc_limit_and_fix():
    p = plan(nodes=10, pods=300, vpc_subnet="10.0.0.0/24")
    assert [limit.resource for limit in p.limits] == ["VPC subnet", "VPC subnet"]
    lab, aws = p.limits  # podnet's own --cni vpc binds first: it keeps .1-.10 and the node addresses
    assert (lab.wanted, lab.available) == (300, 234)
    assert "podnet lab" in lab.message and "10.0.0.21-10.0.0.254" in lab.message
    assert (aws.wanted, aws.available) == (310, 251)
    assert aws.fixes == ("a /23 node subnet (507 addresses after the 5 reserved)",)
    assert plan(nodes=10, pods=300, vpc_subnet="10.0.0.0/23").limits == ()


def test_vpc_plan_agrees_with_a_vpc_lab():
    """The 192.168.80.0/27 lab of three nodes runs 17 Pods; the 18th does not fit."""
    assert plan(nodes=3, pods=17, vpc_subnet="192.168.80.0/27").limits == ()
    limit = plan(nodes=3, pods=18, vpc_subnet="192.168.80.0/27").limits[0]
    assert (limit.wanted, limit.available) == (18, 17)
    assert "192.168.80.14-192.168.80.30" in limit.message


# --- the same arithmetic as the controller and host-local --------------------------------------


@pytest.mark.parametrize("cluster,mask", [("10.244.0.0/22", 24), ("10.244.0.0/22", 26), ("10.244.0.0/24", 28),
                                          ("10.244.0.0/26", 30), ("10.244.0.0/24", 24)])
def test_plan_agrees_with_the_range_allocator_and_host_local(cluster, mask):
    p = plan(cluster, mask, max_pods=5000)
    allocator = RangeAllocator(IPv4Network(cluster), mask)
    slices = []
    with pytest.raises(CidrNotAvailable):
        while True:
            slices.append(allocator.allocate(f"node-{len(slices) + 1}"))
    assert len(slices) == p.node_slices
    for cidr in slices:
        assert cidr.num_addresses == p.addresses_per_slice
        pod_range = PodRange(cidr)
        assert pod_range.pod_capacity == p.pod_addresses_per_node
        assert len(list(pod_range.candidates(None))) == p.pod_addresses_per_node
    assert p.pods_per_node == p.pod_addresses_per_node  # maxPods 5000 is never the limit here
    assert p.total_pods == sum(PodRange(c).pod_capacity for c in slices)


def test_host_local_hands_out_exactly_the_planned_pod_addresses(tmp_path):
    p = plan("10.244.0.0/26", 28, max_pods=5000)
    slice0 = RangeAllocator(IPv4Network("10.244.0.0/26"), 28).allocate("node-1")
    store = HostLocalStore(str(tmp_path / "node-1"), PodRange(slice0))
    given = []
    with pytest.raises(RangeExhausted):
        while True:
            given.append(store.allocate(f"sandbox-{len(given)}", "eth0"))
    assert len(given) == p.pod_addresses_per_node == 13
    assert IPv4Address("10.244.0.1") not in given  # the gateway


@pytest.mark.parametrize("prefix", [16, 20, 24, 27, 28, 29, 30])
def test_service_ips_are_the_hosts_of_the_range(prefix):
    net = IPv4Network(("10.96.0.0", prefix))
    assert service_ips(net) == len(list(net.hosts())) == net.num_addresses - 2


def test_helpers_use_the_allocators():
    cluster = IPv4Network("10.244.0.0/16")
    for mask in range(16, 31):
        assert node_slices(cluster, mask) == RangeAllocator(cluster, mask).capacity
        assert pod_addresses(cluster, mask) == PodRange(RangeAllocator(cluster, mask).slice_at(0)).pod_capacity
    assert vpc_addresses(IPv4Network("10.0.0.0/16")) == 65531


# --- output ------------------------------------------------------------------------------------


def test_to_json_is_camel_case_and_serialisable():
    data = plan(nodes=300, pods=30000, services=5).to_json()
    json.dumps(data)
    assert data["clusterCIDR"] == "10.244.0.0/16" and data["nodeCIDRMaskSize"] == 24
    assert data["serviceCIDR"] == "10.96.0.0/12" and data["maxPods"] == 110
    assert data["nodeSlices"] == 256 and data["addressesPerSlice"] == 256
    assert data["podAddressesPerNode"] == 253 and data["podsPerNode"] == 110
    assert data["podsLimitedBy"] == "maxPods" and data["totalPods"] == 28160
    assert data["services"] == 1048574 and data["dnsIP"] == "10.96.0.10"
    assert data["kubernetesServiceIP"] == "10.96.0.1" and data["valid"] is True
    assert data["targets"] == {"nodes": 300, "pods": 30000, "services": 5}
    limits = {limit["resource"]: limit for limit in data["limits"]}
    assert limits["nodes"]["bindsAt"] == round(256 / 300, 4) and limits["nodes"]["wanted"] == 300
    assert [limit["resource"] for limit in data["limits"]] == ["nodes", "Pods"]
    assert set(limits["nodes"]) == {"resource", "wanted", "available", "message", "fixes", "bindsAt"}
    assert set(data["checks"][0]) == {"rule", "ok", "detail"}
    assert data["vpc"] is None

    vpc = plan(nodes=300, pods=30000, vpc_subnet="10.0.0.0/24").to_json()
    json.dumps(vpc)
    assert vpc["vpc"]["addresses"] == 251 and vpc["vpc"]["podsAfterNodes"] == 0  # 300 nodes take them all
    assert vpc["vpc"]["labPods"] == 0
    assert [limit["resource"] for limit in vpc["limits"]] == ["VPC subnet", "VPC subnet"]


def test_to_json_vpc_block():
    data = plan(nodes=10, vpc_subnet="10.0.0.0/24").to_json()
    assert data["vpc"] == {
        "subnet": "10.0.0.0/24", "size": 256, "reserved": 5, "addresses": 251, "nodes": 10,
        "podsAfterNodes": 241, "totalPods": 241, "podsLimitedBy": "VPC subnet",
        "labPods": 234,  # podnet's --cni vpc: .21 (after nodes .11-.20) to .254
    }
    assert plan().to_json()["vpc"] is None and plan().to_json()["limits"] == []


def test_render_shows_figures_checks_and_limits():
    text = render(plan(nodes=300))
    assert "Cluster CIDR 10.244.0.0/16, node mask /24, Service range 10.96.0.0/12, maxPods 110" in text
    for line in ("node slices (nodes)", "Pods per node", "28160", "1048574", "10.96.0.10", "Checks:"):
        assert line in text
    assert "ok       kubeadm: node mask at most 16 bits longer than the podSubnet mask" in text
    assert "Growth to 300 nodes:" in text
    assert "1. nodes: 300 wanted" in text and "[hit at 85% of the target]" in text
    assert "fix: cluster CIDR 10.244.0.0/15" in text
    assert "FAIL" in render(plan(service_cidr="10.96.0.0/29"))
    assert "Growth" not in render(plan())


def test_plan_is_frozen():
    p = plan()
    assert isinstance(p, Plan)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.total_pods = 1  # type: ignore[misc]


def test_sizing_imports_no_kernel_libraries():
    code = (
        "import json, sys, podnet.core.sizing\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ('mininet', 'pyroute2', 'scapy'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
