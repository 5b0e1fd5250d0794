"""The interactive CLI: Mininet's CLI plus kubectl-style ``get``/``describe`` and ``cni``.

Mirrors ``mininet.cli.CLI`` (every command kept: nodes, net, links, intfs, dump, pingall,
py, sh, ...; a node or Pod name as the first word runs the rest in its namespace, and names
later in the line become IPs) with kubectl's read commands added. Deviations: names are
replaced by the IP from the lab state (a Pod's IP, a node's INTERNAL-IP) instead of asking
the interface; when stdin is not a terminal, every line's success is tracked (a node command
that exits non-zero, an unknown command or a failing podnet command marks the run failed)
and stdin is never forwarded to a running command.
"""

from __future__ import annotations

import shlex
import sys
import time
from select import POLLIN, poll

from mininet.cli import CLI
from mininet.log import error, output, setLogLevel

from podnet.core.errors import PodnetError
from podnet.k8s.routing import vxlan
from podnet.kernel.mininet_net import PodnetNet
from podnet.views import kubectl
from podnet.views.cluster import routing_mode


# flannel's host-gw backend checks its routes on this period (routeCheckRetries loop).
ROUTE_CHECK_INTERVAL = 10.0


class PodnetCLI(CLI):
    def __init__(self, net: PodnetNet, lab, stdin=sys.stdin, **kwargs):
        self.lab = lab  # podnet.lab.session.Lab: state, kernel handles, components
        self.failed_lines: list[str] = []
        self.last_route_check = time.monotonic()
        self.interactive = stdin.isatty()
        # Names like pod-1-1 are one word: '-' must count as part of a command name.
        self.identchars = self.identchars + "-."
        if self.interactive:
            self.prompt = f"podnet({lab.state.name})> "
        else:
            self.prompt = ""
            self.use_rawinput = False
        super().__init__(net, stdin=stdin, **kwargs)

    def precmd(self, line):
        line = super().precmd(line)
        if self.lab.refresh_if_changed():  # e.g. 'podnet apply' ran in another terminal
            self.mn.refresh()
        if not self.interactive and line.strip() and line.strip() != "EOF":
            output(f"podnet> {line.strip()}\n")
        return line

    # -- failure tracking --------------------------------------------------------------------

    def _fail(self, line: str, message: str) -> None:
        self.failed_lines.append(line)
        error(message.rstrip("\n") + "\n")

    def onecmd(self, line):
        try:
            return super().onecmd(line)
        except PodnetError as exc:
            self._fail(line, f"error: {exc}")
            return None

    def postcmd(self, stop, line):
        """The route controller's periodic check, as flannel's host-gw backend re-checks its
        routes every 10 s: after a command, if the last pass is that old, routes a student
        deleted or the kernel dropped (a link went down) come back, and the CLI says so."""
        if not stop and time.monotonic() - self.last_route_check >= ROUTE_CHECK_INTERVAL:
            self.reconcile_routes()
        return stop

    def do_sync(self, _line):
        """Run the route controller and kube-proxy now: re-add missing host-gw routes, drop
           stale ones, rewrite every node's Service rules (what was deleted by hand comes back).
           Usage: sync"""
        self.reconcile_routes()
        with self.lab.lock():
            self.lab.refresh_if_changed()
            results = self.lab.sync_services()
        for result in results:
            output(f"*** kube-proxy: {result.node}: {result.chains} chains, {result.rules} rules written"
                   + (f", {result.jumps_added} missing jumps restored" if result.jumps_added else "") + "\n")

    def reconcile_routes(self) -> None:
        self.last_route_check = time.monotonic()
        diffs, problems = self.lab.sync_routes(strict=False)
        for node, diff in diffs.items():
            for route in diff.delete:
                output(f"*** route controller: {node}: removed {route}\n")
            for route in diff.add:
                output(f"*** route controller: {node}: added {route}\n")
        for problem in problems:
            output(f"*** route controller: {problem}\n")

    # -- kubectl-style commands --------------------------------------------------------------

    def do_get(self, line):
        """Show nodes, Pods, Services, Endpoints or Deployments as kubectl does.
           Usage: get nodes|pods|svc|ep|deploy [NAME...] [-n NAMESPACE|-A] [-o wide|json]"""
        kind, out, names, namespace = kubectl.parse_get_words(shlex.split(line))
        output(kubectl.get(self.lab.state, kind, out, names, namespace) + "\n")

    def do_describe(self, line):
        """Show nodes or Pods (one, or every one of the kind) with their conditions and events.
           Usage: describe node|pod [NAME]"""
        words = shlex.split(line)
        if len(words) not in (1, 2):
            self._fail(line, "usage: describe node|pod [NAME]")
            return
        names = words[1:] or kubectl.names_of(self.lab.state, words[0])
        output("\n\n".join(kubectl.describe(self.lab.state, words[0], name) for name in names) + "\n")

    def do_cni(self, line):
        """Install a CNI plugin on every node and let the kubelets retry their Pods.
           Usage: cni install bridge|ptp|builtin"""
        words = shlex.split(line)
        if len(words) != 2 or words[0] != "install":
            self._fail(line, "usage: cni install bridge|ptp|builtin")
            return
        with self.lab.lock():
            self.lab.refresh_if_changed()
            self.lab.install_cni(words[1])
        self.mn.refresh()
        output(kubectl.get(self.lab.state, "pods", "wide") + "\n")

    def do_routing(self, line):
        """Switch the lab between host-gw and the VXLAN overlay, in place.
           Usage: routing host-gw|vxlan"""
        words = shlex.split(line)
        if len(words) != 1:
            self._fail(line, "usage: routing host-gw|vxlan")
            return
        with self.lab.lock():
            self.lab.refresh_if_changed()
            counts = self.lab.switch_routing(words[0])
        output(f"routing is now {words[0]}: {counts['routesRemoved']} routes removed, {counts['routesAdded']} added, "
               f"{counts['interfaces']} interfaces re-sized\n")

    def do_routes(self, line):
        """Show the routes of one node (or all): the host-gw routes podnet programs.
           Usage: routes [NODE]"""
        names = shlex.split(line) or list(self.lab.state.nodes)
        for name in names:
            if name not in self.lab.state.nodes:
                self._fail(line, f"error: no node named {name!r}")
                return
            node = self.mn[name]
            state = self.lab.state.nodes[name]
            mode = routing_mode(self.lab.state.spec)
            output(f"*** {name}: podCIDR {state.pod_cidr or 'none'}, routing {mode}\n")
            output(node.cmd("ip -4 route show"))
            if self.lab.state.spec.routing == "vxlan":
                output(f"    VTEP {vxlan.DEVICE}: neighbours and forwarding entries\n")
                output(node.cmd(f"ip -4 neigh show dev {vxlan.DEVICE}; bridge fdb show dev {vxlan.DEVICE} | grep dst"))

    def do_iperf(self, _line):
        """Not available: Mininet's iperf runs 'killall -9 iperf', which would end every iperf on
           the machine. Run it yourself: pod-1-1 iperf -s &  then  pod-2-1 iperf -c pod-1-1"""
        self._fail("iperf", "iperf: not in podnet (Mininet's version kills every iperf on the machine); "
                   "run 'pod-1-1 iperf -s &' and 'pod-2-1 iperf -c pod-1-1' instead")

    def do_iperfudp(self, line):
        """Not available, as iperf."""
        self.do_iperf(line)

    def do_dpctl(self, _line):
        """Not available: the underlay is a Linux bridge, not an OpenFlow switch."""
        self._fail("dpctl", "dpctl: the underlay is a Linux bridge (no OpenFlow): try 'underlay bridge fdb show'")

    # -- node commands -----------------------------------------------------------------------

    def default(self, line):
        first, args, line = self.parseline(line)
        if first not in self.mn:
            self._fail(line, f"*** Unknown command: {line}")
            return
        if not args:
            self._fail(line, f"*** Please enter a command for node: {first} <cmd>")
            return
        words = [self.mn.address_of(w) or w if w in self.mn else w for w in args.split(" ")]
        node = self.mn[first]
        node.sendCmd(" ".join(words))
        self.waitForNode(node)
        status = node.cmd("echo $?").strip()
        if status != "0":
            self.failed_lines.append(line)

    def waitForNode(self, node):  # noqa: N802 (Mininet's name)
        if self.isatty():
            return super().waitForNode(node)
        poller = poll()
        poller.register(node.stdout, POLLIN)
        while node.waiting:
            try:
                poller.poll()
                output(node.monitor())
            except KeyboardInterrupt:
                node.sendInt()
        return None

    def do_pingall(self, line):
        loss = self.mn.pingAll(line)
        if loss:
            self.failed_lines.append("pingall")


def run_shell(lab) -> list[str]:
    """Mininet's CLI on a running lab until ``exit`` (or the end of piped input); returns the
    lines that failed."""
    setLogLevel("info" if sys.stdin.isatty() else "output")
    net = PodnetNet(lab.state)
    try:
        cli = PodnetCLI(net, lab)
    finally:
        net.stop_shells()
    return cli.failed_lines
