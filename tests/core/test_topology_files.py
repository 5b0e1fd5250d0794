"""Topology files: podnet format, kind Cluster config, safe loading (podnet.spec)."""

from ipaddress import IPv4Network

import pytest

from podnet.core.errors import InputError
from podnet.core.spec import NodeSpec, PodSpec
from podnet.core.topology import read_topology, spec_from_sources, topology_path

PODNET_TOPOLOGY = """\
name: lab2
description: two nodes, custom ranges
networking:
  clusterCIDR: 10.100.0.0/16
  nodeCIDRMaskSize: 25
  serviceCIDR: 10.32.0.0/16
  underlayCIDR: 192.168.88.0/24
  cni: ptp
  routing: host-gw
  maxPods: 20
nodes:
  - name: cp
    role: control-plane
  - name: w1
pods:
  - name: web
    nodeName: w1
  - name: free
"""


def test_podnet_topology_full(write_yaml):
    spec = spec_from_sources(write_yaml(PODNET_TOPOLOGY), {})
    assert spec.name == "lab2"
    assert spec.cluster_cidr == IPv4Network("10.100.0.0/16")
    assert spec.node_cidr_mask_size == 25
    assert spec.service_cidr == IPv4Network("10.32.0.0/16")
    assert spec.underlay_cidr == IPv4Network("192.168.88.0/24")
    assert spec.cni == "ptp"
    assert spec.max_pods == 20
    assert spec.nodes == (NodeSpec("cp", "control-plane"), NodeSpec("w1", "worker"))
    # Explicit pods and no podsPerNode: no generated pods.
    assert spec.pods == (PodSpec("web", "w1"), PodSpec("free", None))


def test_podnet_topology_node_count_and_pods_per_node(write_yaml):
    path = write_yaml("nodes: 4\npodsPerNode: 1\n")
    spec = spec_from_sources(path, {})
    assert [n.name for n in spec.nodes] == ["node-1", "node-2", "node-3", "node-4"]
    assert [p.name for p in spec.pods] == ["pod-1-1", "pod-2-1", "pod-3-1", "pod-4-1"]
    assert all(p.node == f"node-{i}" for i, p in enumerate(spec.pods, start=1))


def test_explicit_pods_plus_pods_per_node(write_yaml):
    path = write_yaml("nodes: 1\npodsPerNode: 1\npods:\n  - name: extra\n")
    assert [p.name for p in spec_from_sources(path, {}).pods] == ["extra", "pod-1-1"]


@pytest.mark.parametrize(
    "text,field",
    [
        ("bogus: 1\n", "topology key"),
        ("networking:\n  podSubnet: 10.1.0.0/16\n", "networking key"),
        ("nodes:\n  - name: a\n    labels: {}\n", "nodes[0] key"),
        ("pods:\n  - name: a\n    image: nginx\n", "pods[0] key"),
    ],
)
def test_unknown_keys_rejected(write_yaml, text, field):
    with pytest.raises(InputError) as info:
        read_topology(write_yaml(text))
    assert info.value.field == field


@pytest.mark.parametrize(
    "text,field",
    [
        ("nodes: three\n", "nodes"),
        ("nodes: true\n", "nodes"),
        ("nodes: 0\n", "nodes"),
        ("nodes:\n  - a\n", "nodes[0]"),
        ("pods: web\n", "pods"),
        ("pods:\n  - nodeName: a\n", "pods[0]"),
        ("networking: [a]\n", "networking"),
        ("podsPerNode: -1\n", "podsPerNode"),
    ],
)
def test_bad_shapes_rejected(write_yaml, text, field):
    with pytest.raises(InputError) as info:
        read_topology(write_yaml(text))
    assert info.value.field == field


def test_mixed_type_unknown_keys_give_input_error(write_yaml):
    # "1: a" next to "bogus: b" gives int and str keys; reporting them must not crash.
    with pytest.raises(InputError):
        read_topology(write_yaml("1: a\nbogus: b\n"))


def test_infinite_max_pods_gives_input_error(write_yaml):
    with pytest.raises(InputError):
        spec_from_sources(write_yaml("networking:\n  maxPods: .inf\n"), {})


def test_invalid_yaml_mentions_line(write_yaml):
    path = write_yaml("name: x\nnodes: [\n  - a\n")
    with pytest.raises(InputError) as info:
        read_topology(path)
    assert info.value.field == "topology"
    assert info.value.value == path
    assert "not valid YAML (line" in str(info.value)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n", "42\n"])
def test_topology_must_be_a_mapping(write_yaml, text):
    with pytest.raises(InputError, match="YAML mapping"):
        read_topology(write_yaml(text))


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(InputError) as info:
        read_topology(path)
    assert "no such file" in str(info.value)
    assert info.value.exit_code == 2


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(InputError, match="directory"):
        read_topology(str(tmp_path))


@pytest.mark.parametrize(
    "payload",
    [
        "!!python/object/apply:os.system ['touch {marker}']\n",
        "name: !!python/object/apply:os.system ['touch {marker}']\n",
        "nodes: !!python/object/apply:subprocess.call [['touch', '{marker}']]\n",
    ],
)
def test_python_tags_are_invalid_yaml_and_never_run(write_yaml, tmp_path, payload):
    marker = tmp_path / "executed"
    path = write_yaml(payload.format(marker=marker))
    with pytest.raises(InputError, match="not valid YAML"):
        read_topology(path)
    assert not marker.exists()


KIND_CONFIG = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: dev
networking:
  podSubnet: 10.50.0.0/16
  serviceSubnet: 10.60.0.0/16
  disableDefaultCNI: true
nodes:
  - role: control-plane
  - role: worker
  - role: worker
"""


def test_kind_cluster_config(write_yaml):
    spec = spec_from_sources(write_yaml(KIND_CONFIG), {})
    assert spec.name == "dev"
    assert spec.cluster_cidr == IPv4Network("10.50.0.0/16")
    assert spec.service_cidr == IPv4Network("10.60.0.0/16")
    assert spec.cni == "none"
    assert spec.nodes == (
        NodeSpec("dev-control-plane", "control-plane"),
        NodeSpec("dev-worker", "worker"),
        NodeSpec("dev-worker2", "worker"),
    )
    assert spec.pods[0] == PodSpec("pod-1-1", "dev-control-plane")
    assert len(spec.pods) == 6


def test_kind_defaults_name_kind_and_one_control_plane(write_yaml):
    spec = spec_from_sources(write_yaml("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"), {})
    assert spec.name == "kind"
    assert spec.nodes == (NodeSpec("kind-control-plane", "control-plane"),)
    assert spec.cni == "bridge"


def test_kind_multiple_control_planes_numbered(write_yaml):
    text = "kind: Cluster\nnodes:\n  - role: control-plane\n  - role: control-plane\n  - role: worker\n"
    args = read_topology(write_yaml(text))
    assert args["nodes"] == [
        ("kind-control-plane", "control-plane"),
        ("kind-control-plane2", "control-plane"),
        ("kind-worker", "worker"),
    ]


@pytest.mark.parametrize(
    "networking,field",
    [
        ("  ipFamily: ipv6\n", "networking.ipFamily"),
        ("  clusterCIDR: 10.1.0.0/16\n", "networking key"),
    ],
)
def test_kind_networking_validated(write_yaml, networking, field):
    with pytest.raises(InputError) as info:
        read_topology(write_yaml("kind: Cluster\nnetworking:\n" + networking))
    assert info.value.field == field


def test_kind_bad_role(write_yaml):
    with pytest.raises(InputError) as info:
        read_topology(write_yaml("kind: Cluster\nnodes:\n  - role: master\n"))
    assert info.value.field == "nodes[0].role"


def test_cli_overrides_win_over_file(write_yaml):
    path = write_yaml(PODNET_TOPOLOGY)
    spec = spec_from_sources(
        path,
        {
            "name": "override",
            "cluster_cidr": "10.210.0.0/16",
            "node_cidr_mask_size": 24,
            "cni": "bridge",
            "max_pods": 50,
            "service_cidr": None,  # None: the file's value stays
        },
    )
    assert spec.name == "override"
    assert spec.cluster_cidr == IPv4Network("10.210.0.0/16")
    assert spec.node_cidr_mask_size == 24
    assert spec.service_cidr == IPv4Network("10.32.0.0/16")
    assert spec.cni == "bridge"
    assert spec.max_pods == 50
    assert spec.underlay_cidr == IPv4Network("192.168.88.0/24")
    assert [n.name for n in spec.nodes] == ["cp", "w1"]


def test_cli_node_count_overrides_file_nodes(write_yaml):
    spec = spec_from_sources(write_yaml("nodes:\n  - name: a\n  - name: b\n"), {"node_count": 2, "pods_per_node": 1})
    assert spec.nodes == (NodeSpec("node-1", "control-plane"), NodeSpec("node-2", "worker"))
    assert [p.name for p in spec.pods] == ["pod-1-1", "pod-2-1"]


def test_cli_cni_overrides_kind_disable_default_cni(write_yaml):
    spec = spec_from_sources(write_yaml(KIND_CONFIG), {"cni": "ptp"})
    assert spec.cni == "ptp"


def test_cli_pods_per_node_overrides_file(write_yaml):
    spec = spec_from_sources(write_yaml("nodes: 2\npodsPerNode: 3\n"), {"pods_per_node": 0})
    assert spec.pods == ()


def test_topology_path_resolution():
    assert topology_path("default", "/t") == "/t/default.yaml"
    assert topology_path("x.yaml", "/t") == "x.yaml"
    assert topology_path("dir/x", "/t") == "dir/x"
