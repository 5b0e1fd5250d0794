"""Lab names: one lab per name, several labs side by side, and ``exec`` into a lab's
nodes and Pods by name."""

from __future__ import annotations

import pytest

import json
import os
import re
import subprocess

from tests.support.labs import eth0_ipv4
from tests.support.packets import Receiver, UDP_CLIENT, UDP_SERVER, assert_cross_node_reachability, assert_ping, random_port, send_from
from tests.support.processes import PODNET, REPO, explain, netns_inode, podnet, run

pytestmark = pytest.mark.root



def _fingerprint(lab) -> dict:
    """The lab's namespaces (by inode: the same objects, not new ones of the same name) and its state."""
    with open(os.path.join(lab.run_dir, "state.json"), encoding="utf-8") as handle:
        state = handle.read()
    return {"netns": {n: netns_inode(n) for n in lab.namespaces()}, "state": state}


def test_second_up_with_the_same_name_is_refused_and_the_first_lab_is_untouched(lab):
    lab.up()
    before = _fingerprint(lab)
    again = podnet("up", "-d", "--name", lab.name, timeout=60)
    assert again.returncode == 2, explain(again)
    lines = again.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("podnet:") and "already exists" in lines[0], explain(again)
    assert lab.name in lines[0]
    assert "Traceback" not in again.stderr
    assert _fingerprint(lab) == before
    # the same for a foreground attempt
    again = podnet("up", "--name", lab.name, input="pingall\n", timeout=60)
    assert again.returncode == 2, explain(again)
    assert _fingerprint(lab) == before
    assert_ping(lab, "pod-1-1", lab.pod_ip("pod-2-2"))
    assert_cross_node_reachability(lab)


def test_two_labs_side_by_side_with_the_same_cidrs(make_lab):
    first, second = make_lab(), make_lab()
    first.up()
    second.up()
    cidrs = [{n: node["spec"]["podCIDR"] for n, node in lab.nodes().items()} for lab in (first, second)]
    assert cidrs[0] == cidrs[1] == {"node-1": "10.244.0.0/24", "node-2": "10.244.1.0/24", "node-3": "10.244.2.0/24"}
    ips = [{n: p["status"]["podIP"] for n, p in lab.pods().items()} for lab in (first, second)]
    assert ips[0] == ips[1]  # the same addresses, in separate worlds
    for lab in (first, second):
        assert_ping(lab, "pod-1-1", lab.pod_ip("pod-3-2"))
        assert_cross_node_reachability(lab)
    # the labs are separate worlds: a datagram to 10.244.2.3 from the first lab's pod-1-1
    # reaches the first lab's pod-3-2, never the second lab's Pod with the same address
    assert first.namespaces().isdisjoint(second.namespaces())
    port = random_port()
    with Receiver(second.ns_path("pod-3-2"), UDP_SERVER, port) as other_world:
        for _ in range(3):
            sent = send_from(first.ns_path("pod-1-1"), UDP_CLIENT, ips[0]["pod-3-2"], port, "hello")
            assert sent.returncode == 0, explain(sent)
        assert other_world.result(1.0) is None

    kept = {n: netns_inode(n) for n in second.namespaces()}
    result = first.down()
    assert result.returncode == 0, explain(result)
    assert first.namespaces() == set() and not os.path.exists(first.run_dir)
    assert {n: netns_inode(n) for n in second.namespaces()} == kept
    assert len(kept) == 10 + 3  # + the Internet, the external client and CoreDNS
    listing = {row["name"] for row in json.loads(podnet("list", "-o", "json", check=True).stdout)}
    assert second.name in listing and first.name not in listing
    assert_ping(second, "pod-1-1", second.pod_ip("pod-3-2"))
    assert_cross_node_reachability(second)


def test_exec_and_ip_netns_exec_run_in_the_pod(lab):
    lab.up()
    pods = lab.pods()
    for pod in ("pod-1-1", "pod-3-2"):
        ip = pods[pod]["status"]["podIP"]
        assert eth0_ipv4(lab, pod) == ip
        direct = run(["ip", "netns", "exec", lab.ns(pod), "ip", "-4", "-o", "addr", "show", "dev", "eth0"])
        assert direct.returncode == 0, explain(direct)
        assert re.findall(r"inet (\S+)/", direct.stdout) == [ip]
    # exec into a node lands in the node's namespace
    node = lab.exec("node-2", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
    assert node.returncode == 0 and "192.168.77.12/24" in node.stdout, explain(node)
    # the command's exit status is passed through
    assert lab.exec("pod-1-1", "sh", "-c", "exit 7").returncode == 7


def test_exec_into_a_pending_pod_or_an_unknown_name_fails_clearly(lab):
    lab.up("--cni", "none")
    pending = lab.exec("pod-1-1", "true")
    assert pending.returncode not in (0, 2), explain(pending)
    assert pending.stderr.startswith("podnet:") and "Pending" in pending.stderr, explain(pending)
    assert "pod-1-1" in pending.stderr and "Traceback" not in pending.stderr
    unknown = lab.exec("pod-9-9", "true")
    assert unknown.returncode == 2, explain(unknown)
    assert unknown.stderr.startswith("podnet:") and "pod-9-9" in unknown.stderr, explain(unknown)
    missing_lab = podnet("exec", "--name", lab.name + "x", "pod-1-1", "--", "true")
    assert missing_lab.returncode == 2, explain(missing_lab)
    assert "no lab named" in missing_lab.stderr, explain(missing_lab)


def test_concurrent_ups_with_one_name_one_wins_and_its_lab_is_intact(make_lab):
    """Two ``up -d`` with the same name started together: one gets the name and a complete lab;
    the other exits 2 with one line saying the lab exists, and touches nothing of the winner's
    (it made nothing, so it has nothing to tear down). The plan of 5000 Pending Pods makes the
    time between the name check and the claim, and the winner's first save, long enough for
    the two to overlap; it is tried a few times."""
    args = ["--nodes", "5", "--pods-per-node", "1000", "--cni", "none"]
    for attempt in range(8):
        lab = make_lab()
        procs = [subprocess.Popen([*PODNET, "up", "-d", "--name", lab.name, *args], cwd=REPO,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
        results = []
        for proc in procs:
            _out, err = proc.communicate(timeout=120)
            results.append((proc.returncode, err.decode()))
        codes = sorted(code for code, _ in results)
        detail = f"attempt {attempt}: exit codes {codes}\n" + "\n".join(err for _, err in results)
        assert codes == [0, 2], detail
        loser = next(err for code, err in results if code == 2).splitlines()
        assert len(loser) == 1 and loser[0].startswith("podnet:") and "already exists" in loser[0], detail
        assert os.path.exists(os.path.join(lab.run_dir, "state.json")), detail
        assert len(lab.namespaces()) == 3 + 5, detail  # underlay, Internet, external client, nodes; the Pods are Pending
        assert len(lab.pods()) == 5000
        down = lab.down()
        assert down.returncode == 0, explain(down)


def test_up_refuses_a_name_whose_namespaces_exist_and_leaves_them_alone(lab):
    """A namespace named like one the lab would make (``<lab>-node-2``) but made by someone
    else: ``up`` refuses (exit 2) and neither deletes nor reuses it."""
    foreign = lab.ns("node-2")
    made = run(["ip", "netns", "add", foreign])
    assert made.returncode == 0, explain(made)
    try:
        marker = run(["ip", "-n", foreign, "link", "add", "mine0", "type", "bridge"])
        assert marker.returncode == 0, explain(marker)
        inode = netns_inode(foreign)
        result = podnet("up", "-d", "--name", lab.name, timeout=60)
        assert result.returncode == 2, explain(result)
        assert lab.namespaces() == {foreign}
        assert netns_inode(foreign) == inode
        assert run(["ip", "-n", foreign, "link", "show", "mine0"]).returncode == 0
        assert not os.path.exists(lab.run_dir)
        down = lab.down()
        assert down.returncode == 0 and netns_inode(foreign) == inode, explain(down)
        # the refusal is one line naming the namespace (it made nothing, so it tore nothing down)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("podnet:") and foreign in lines[0], explain(result)
    finally:
        run(["ip", "netns", "del", foreign])
