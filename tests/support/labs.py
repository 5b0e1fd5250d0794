"""One lab of the test session, driven through the CLI, and checks on what it shows.

Lab names are fresh ("t" + 6 hex digits) and recorded in :data:`OUR_LABS` (and, under
pytest-xdist, in a registry the other workers read), so a test only ever looks at, or acts
on, what this session made.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
import subprocess

from tests.support.processes import (
    CMD_TIMEOUT, NETNS_DIR, RUN_DIR, UP_TIMEOUT, explain, netns_inode, netns_list, podnet, run, wait_until,
)
from tests.support.registry import register


# Every lab name this session generated: anything else on the machine is someone else's.
OUR_LABS: set[str] = set()


def new_lab_name() -> str:
    name = "t" + secrets.token_hex(3)
    OUR_LABS.add(name)
    register(name)
    return name


class Lab:
    """One lab of this test session, driven through the CLI."""

    def __init__(self, name: str | None = None):
        self.name = name or new_lab_name()
        OUR_LABS.add(self.name)
        register(self.name)

    # lifecycle
    def up(self, *args: str, expect: int | None = 0, timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess:
        result = podnet("up", "-d", "--name", self.name, *args, timeout=timeout)
        if expect is not None:
            assert result.returncode == expect, explain(result)
        if result.returncode == 0 and "--no-api" not in args and "docker" not in args:
            self.wait_for_api()
        return result

    def wait_for_api(self, timeout: float = 20) -> None:
        """The lab's API server starts beside the lab and writes its files as it comes up;
        tests that compare the lab's directory before and after something wait for it."""
        endpoint = os.path.join(self.run_dir, "apiserver", "endpoint.json")
        wait_until(lambda: os.path.exists(endpoint), timeout, what=f"the API server of {self.name}")

    def down(self, *args: str) -> subprocess.CompletedProcess:
        return podnet("down", "--name", self.name, *args, timeout=UP_TIMEOUT)

    # reads
    def get(self, kind: str) -> dict[str, dict]:
        result = podnet("get", kind, "-o", "json", "--name", self.name, check=True)
        return {item["metadata"]["name"]: item for item in json.loads(result.stdout)["items"]}

    def pods(self) -> dict[str, dict]:
        return self.get("pods")

    def nodes(self) -> dict[str, dict]:
        return self.get("nodes")

    def pod_ip(self, pod: str) -> str:
        ip = self.pods()[pod]["status"]["podIP"]
        assert ip, f"pod {pod} of lab {self.name} has no IP"
        return ip

    def node_ip(self, node: str) -> str:
        return internal_ip(self.nodes()[node])

    def describe(self, kind: str, name: str) -> str:
        return podnet("describe", kind, name, "--name", self.name, check=True).stdout

    def exec(self, target: str, *argv: str, timeout: float = CMD_TIMEOUT) -> subprocess.CompletedProcess:
        return podnet("exec", "--name", self.name, target, "--", *argv, timeout=timeout)

    # kernel side
    def ns(self, obj: str) -> str:
        return f"{self.name}-{obj}"

    def ns_path(self, obj: str) -> str:
        return os.path.join(NETNS_DIR, self.ns(obj))

    def in_ns(self, obj: str, *argv: str, timeout: float = CMD_TIMEOUT) -> subprocess.CompletedProcess:
        return run(["nsenter", f"--net={self.ns_path(obj)}", "--", *argv], timeout=timeout)

    def namespaces(self) -> set[str]:
        return {n for n in netns_list() if n.startswith(self.name + "-")}

    def system_pods(self) -> dict[str, dict]:
        """kube-system Pods (CoreDNS) that hold a sandbox namespace."""
        result = podnet("get", "pods", "-n", "kube-system", "-o", "json", "--name", self.name, check=True)
        return {item["metadata"]["name"]: item for item in json.loads(result.stdout)["items"]}

    def infra_ns(self, running_system_pods: bool = True) -> set[str]:
        """Namespaces every Kubernetes lab has besides its nodes and workload Pods: the underlay
        switch, the emulated Internet and external client, and the Running CoreDNS Pod."""
        names = {self.ns("underlay"), self.ns("internet"), self.ns("external")}
        if running_system_pods:
            names |= {self.ns(n) for n, p in self.system_pods().items() if p["status"]["phase"] == "Running"}
        return names

    def inodes(self) -> set[int]:
        return {i for i in (netns_inode(n) for n in self.namespaces()) if i is not None}

    @property
    def run_dir(self) -> str:
        return os.path.join(RUN_DIR, self.name)


def internal_ip(node_item: dict) -> str:
    return next(a["address"] for a in node_item["status"]["addresses"] if a["type"] == "InternalIP")


def containerstatus(pod_item: dict) -> str:
    """podnet's own status word of a Pod (Running, ContainerCreating or Pending)."""
    return pod_item["podnet"]["status"]


def eth0_ipv4(lab: Lab, obj: str) -> str:
    result = lab.exec(obj, "ip", "-4", "-o", "addr", "show", "dev", "eth0")
    assert result.returncode == 0, explain(result)
    addrs = re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/\d+", result.stdout)
    assert len(addrs) == 1, result.stdout
    return addrs[0]


def in_network(ip: str, cidr: str) -> bool:
    return ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(cidr)


def check_running_lab(lab: Lab, expect_nodes: dict[str, str] | None = None) -> dict[str, dict]:
    """Every Pod of ``lab`` Running, with a unique IP inside its node's podCIDR and a namespace."""
    nodes, pods = lab.nodes(), lab.pods()
    seen = set()
    for name, pod in pods.items():
        assert pod["status"]["phase"] == "Running" and containerstatus(pod) == "Running", pod
        ip = pod["status"]["podIP"]
        cidr = nodes[pod["spec"]["nodeName"]]["spec"]["podCIDR"]
        assert ip and in_network(ip, cidr), (name, ip, cidr)
        assert ip not in seen, f"{ip} given twice"
        seen.add(ip)
        assert lab.ns(name) in lab.namespaces()
    if expect_nodes is not None:
        assert {n: node["spec"]["podCIDR"] for n, node in nodes.items()} == expect_nodes
    return pods


def probe_cmd(lab: Lab, *args: str, timeout: float = CMD_TIMEOUT) -> subprocess.CompletedProcess:
    """``podnet probe --name LAB ARGS...`` as a child process."""
    return podnet("probe", "--name", lab.name, *args, timeout=timeout)


def probe_json(lab: Lab, *args: str, expect: int | None = 0, timeout: float = CMD_TIMEOUT) -> dict:
    """Run a probe (or ``--all``) with ``-o json``; check the exit code; return the parsed JSON."""
    result = probe_cmd(lab, *args, "-o", "json", timeout=timeout)
    if expect is not None:
        assert result.returncode == expect, explain(result)
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise AssertionError("probe printed no JSON\n" + explain(result)) from None


def assert_refused(result: subprocess.CompletedProcess, *mentions: str, code: int = 2) -> str:
    """Exit ``code``, nothing on stdout, exactly one ``podnet:`` line on stderr naming ``mentions``;
    returns that line."""
    assert result.returncode == code, explain(result)
    assert "Traceback" not in result.stdout + result.stderr, explain(result)
    assert result.stdout == "", explain(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stderr.endswith("\n"), explain(result)
    assert lines[0].startswith("podnet:"), lines[0]
    for word in mentions:
        assert word in lines[0], f"{word!r} not named in {lines[0]!r}"
    return lines[0]


def masquerade_in_node(lab: Lab, node: str, src_cidr: str, dst_cidr: str) -> None:
    """Add ``POSTROUTING -s SRC -d DST -j MASQUERADE`` to the nat table INSIDE the node's
    namespace (never the machine's own); it disappears with the namespace."""
    rule = ["-s", src_cidr, "-d", dst_cidr, "-j", "MASQUERADE"]
    added = lab.in_ns(node, "iptables", "-w", "5", "-t", "nat", "-A", "POSTROUTING", *rule)
    assert added.returncode == 0, explain(added)
    check = lab.in_ns(node, "iptables", "-w", "5", "-t", "nat", "-C", "POSTROUTING", *rule)
    assert check.returncode == 0, explain(check)


def ip_json(lab: Lab, obj: str, *args: str) -> list:
    """``ip -j ARGS`` inside a node's or Pod's namespace (through nsenter), parsed."""
    result = lab.in_ns(obj, "ip", "-j", *args)
    assert result.returncode == 0, explain(result)
    return json.loads(result.stdout) if result.stdout.strip() else []


def connect(lab: Lab, source: str, target: str, *args: str, expect: int | None = None) -> dict:
    """``podnet connect SOURCE TARGET ARGS -o json``, parsed; ``_exit`` holds the exit code."""
    result = podnet("connect", "--name", lab.name, source, target, *args, "-o", "json", timeout=CMD_TIMEOUT)
    if expect is not None:
        assert result.returncode == expect, explain(result)
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise AssertionError("connect printed no JSON\n" + explain(result)) from None
    data["_exit"] = result.returncode
    return data


def all_ok(data: dict, count: int) -> list[dict]:
    answers = data["answers"]
    assert len(answers) == count, data
    bad = [a for a in answers if a["status"] != "ok"]
    assert not bad, (f"{data['source']} -> {data['target']}:{data['port']}/{data['protocol']}: {len(bad)} of {count} "
                     f"requests failed: {bad[:3]}\nlookup: {data['lookup']}")
    assert data["ok"] is True and data["_exit"] == 0, data
    return answers


def client_ip(answer: dict) -> str:
    return answer["client"].rsplit(":", 1)[0]


def trace(lab: Lab, source: str, destination: str, *args: str, expect: int | None = 0) -> dict:
    result = podnet("trace", "--name", lab.name, source, destination, *args, "-o", "json", timeout=CMD_TIMEOUT)
    if expect is not None:
        assert result.returncode == expect, explain(result)
    return json.loads(result.stdout)

