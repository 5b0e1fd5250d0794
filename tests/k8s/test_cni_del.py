"""CNI DEL, as a runtime sends it: idempotent, and it releases the Pod's address.

Drives podnet's CNI runtime directly against a running lab's sandbox (real plugins, real
namespaces), the way containerd calls DEL when a Pod goes away or after a failed ADD.
"""

from __future__ import annotations

import os

import pytest

from podnet.lab.session import Lab as LabSession
from podnet.k8s.cni.runtime import Sandbox, load_conflist
from podnet.core.naming import netns_name

from tests.support.labs import Lab

pytestmark = pytest.mark.root



def _lease_files(lab: Lab, node: str) -> set[str]:
    directory = os.path.join(lab.run_dir, "ipam", node, "podnet")  # host-local: <dataDir>/<network name>
    return {e for e in os.listdir(directory) if e[0].isdigit()}


@pytest.mark.parametrize("cni", ["bridge", "builtin", "ptp"])
def test_del_twice_releases_the_address_and_removes_the_veth(lab: Lab, cni: str):
    lab.up("--cni", cni, "--nodes", "1", "--pods-per-node", "2")
    opened = LabSession.open(lab.name)
    try:
        pod = opened.state.pods["pod-1-1"]
        assert pod.phase == "Running" and pod.ip and pod.host_veth
        assert pod.ip in _lease_files(lab, "node-1")
        assert pod.host_veth in lab.in_ns("node-1", "ip", "-o", "link").stdout
        conflist = load_conflist(opened.state.nodes["node-1"].cni_config)
        sandbox = Sandbox(pod.sandbox_id, pod.name, netns_name(lab.name, "node-1"), netns_name(lab.name, pod.name))

        assert opened.runtime.delete(conflist, sandbox) == []  # first DEL: no problem reported
        assert pod.ip not in _lease_files(lab, "node-1")  # the lease is released
        assert pod.host_veth not in lab.in_ns("node-1", "ip", "-o", "link").stdout  # the veth is gone
        other = opened.state.pods["pod-1-2"]
        assert other.ip in _lease_files(lab, "node-1")  # the other Pod keeps its lease

        assert opened.runtime.delete(conflist, sandbox) == []  # second DEL: nothing left, still fine
    finally:
        opened.close()
