"""The process limits a big lab meets: netlink sockets kept per namespace, descriptors."""

from __future__ import annotations

import os
import resource
import subprocess
import uuid

import pytest

from podnet.kernel import limits, netlink, netns


class _Worker:
    """Stands in for the namespace worker: it records where it was asked to open a socket."""

    def __init__(self):
        self.opened: list[str] = []

    def run_in(self, ns, func):
        self.opened.append(ns)
        return _Socket(ns)


class _Socket:
    def __init__(self, ns):
        self.ns, self.closed = ns, False

    def close(self):
        self.closed = True


def test_sockets_keep_at_most_their_limit_and_close_the_least_recently_used():
    worker = _Worker()
    sockets = netlink.Sockets(worker, limit=2)
    a, b = sockets("a"), sockets("b")
    assert sockets("a") is a  # reused, and now the most recently used
    c = sockets("c")
    assert b.closed and not a.closed and not c.closed
    assert worker.opened == ["a", "b", "c"]
    again = sockets("b")  # asked for again: a new socket, and "a" goes this time
    assert again is not b and not again.closed and a.closed
    assert worker.opened == ["a", "b", "c", "b"]


def test_adopting_a_new_socket_for_a_namespace_closes_the_old_one():
    sockets = netlink.Sockets(_Worker(), limit=4)
    old, new = sockets("a"), _Socket("a")
    sockets.adopt("a", new)
    assert old.closed and sockets("a") is new
    sockets.forget("a")
    assert new.closed


def test_descriptors_grow_with_namespaces():
    assert limits.descriptors_for(10_000) > limits.descriptors_for(10) > 3 * 10


def test_the_open_files_limit_is_raised_and_never_lowered():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        got = limits.ensure_open_files(min(soft + 16, hard) if hard != resource.RLIM_INFINITY else soft + 16)
        assert got >= soft
        assert limits.ensure_open_files(1) == got  # a smaller wish never lowers it
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.root
def test_a_real_socket_reopens_in_its_namespace_after_eviction():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    names = [f"pnlim-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
    for name in names:
        subprocess.run(["ip", "netns", "add", name], check=True)
    worker = netns.NetnsWorker()
    sockets = netlink.Sockets(worker, limit=1)
    try:
        for name in names:
            subprocess.run(["ip", "-n", name, "link", "add", f"d-{name[-1]}", "type", "bridge"], check=True)
        for _round in range(2):
            for name in names:
                links = {link.get_attr("IFLA_IFNAME") for link in sockets(name).get_links()}
                assert f"d-{name[-1]}" in links and "lo" in links
    finally:
        sockets.close()
        worker.close()
        for name in names:
            subprocess.run(["ip", "netns", "del", name], check=False)
