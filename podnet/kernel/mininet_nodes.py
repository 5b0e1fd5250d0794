"""Mininet nodes that live in podnet's named network namespaces.

Mirrors Mininet's ``Node`` ("a shell in a network namespace"): Kubernetes nodes and Pods
are Mininet nodes, so every Mininet CLI command and ``node.cmd()`` work on them.
Deviations from ``mininet.node.Node``: the namespace already exists and has a name
(``<lab>-<name>``), so the shell enters it with ``nsenter --net`` instead of creating an
anonymous one with ``mnexec -n``; Pod shells start lazily, on first use, because a shell per
Pod would cost a process and ~0.8 MB each for a thousand Pods; interfaces are created by the
controller and only recorded here (Mininet never moves or deletes them).
"""

from __future__ import annotations

from mininet.link import Intf, Link
from mininet.node import Node

from podnet.kernel.netns import enter_argv


class NamespaceNode(Node):
    """A Mininet node whose shell runs in the existing named namespace ``netns``."""

    lazy = False
    resolv_conf: str | None = None  # a Pod's resolv.conf, bind-mounted for its shell (cluster DNS)

    def __init__(self, name: str, netns: str, **params):
        self.netns = netns
        super().__init__(name, inNamespace=False, **params)

    def startShell(self, mnopts=None):  # noqa: N802 (Mininet's name)
        if self.lazy:
            return
        super().startShell(mnopts)

    def ensure_shell(self) -> None:
        if self.shell is None:
            Node.startShell(self)

    def _popen(self, cmd, **params):
        if self.shell is None and cmd and cmd[0] == "mnexec":
            # the shell sees the Pod's resolv.conf, in a mount namespace of its own
            cmd = enter_argv(self.netns, list(cmd), self.resolv_conf)
        return super()._popen(cmd, **params)

    def cmd(self, *args, **kwargs):
        self.ensure_shell()
        return super().cmd(*args, **kwargs)

    def sendCmd(self, *args, **kwargs):  # noqa: N802
        self.ensure_shell()
        return super().sendCmd(*args, **kwargs)

    def popen(self, *args, **kwargs):
        self.ensure_shell()
        return super().popen(*args, **kwargs)


class KubeNode(NamespaceNode):
    """A Kubernetes node: a router with eth0 on the underlay and the Pods' bridge or veths."""


class PodHost(NamespaceNode):
    """A Pod sandbox: one eth0 with the Pod IP. Its shell starts on first use."""

    lazy = True


class UnderlaySwitch(NamespaceNode):
    """The L2 underlay: a Linux bridge in its own namespace (no OVS, no OpenFlow controller)."""

    lazy = True

    def start(self, _controllers) -> None:
        """A Linux bridge forwards by itself; nothing to start."""

    def stop(self, deleteIntfs=False) -> None:  # noqa: N803
        self.terminate()

    def connected(self) -> bool:
        return True


class RecordedLink(Link):
    """A link the controller made; Mininet may show it but never creates or deletes it."""

    def __init__(self, intf1: Intf, intf2: Intf):  # pylint: disable=super-init-not-called
        self.intf1, self.intf2 = intf1, intf2
        intf1.link = self
        intf2.link = self

    def stop(self) -> None:
        return None

    def delete(self) -> None:
        return None


def record_intf(node: Node, name: str, ip: str | None = None, prefix: int | None = None) -> Intf:
    intf = Intf(name, node=node, up=None)  # record only: no command runs in the node
    intf.ip, intf.prefixLen = ip, prefix
    return intf
