"""The ``podnet`` command: argparse, printing, exit codes. The only module that prints or exits.

Mirrors the verbs of the tools students meet next to a cluster: containerlab's lab
lifecycle (``up``/``down``/``list``/``clean``), kubectl's reads (``get``, ``describe``,
``exec``) and Mininet's CLI (``up`` in the foreground, or ``cli`` to attach).
Exit codes: 0 success, 1 a failed check or command, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time

from podnet.addressing import parse_seconds
from podnet import cli_course, commands, controller, errors, spec as spec_mod, state as state_store
from podnet.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, InputError, PodnetError
from podnet.model import RUNNING
from podnet.naming import EXTERNAL_NAME, INTERNET_NAME, check_dns1123_label, check_lab_name, netns_name

PROG = "podnet"
HERE = os.path.dirname(os.path.abspath(__file__))
TOPOLOGIES_DIR = os.environ.get("PODNET_TOPOLOGIES", os.path.join(os.path.dirname(HERE), "topologies"))


class Terminated(BaseException):
    """SIGTERM or SIGHUP: tear down, exit 130. Not a KeyboardInterrupt on purpose: Mininet's
    CLI catches those to stop a command and carry on, and a termination must end the lab."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        sys.stderr.write(f"{PROG}: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _add_lab(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", help="lab name (default: the only running lab, else podnet)")


def _lab_name(given: str | None) -> str:
    """``--name``, or the one lab on the machine, or the default name."""
    if given is not None:
        return check_lab_name(given)
    labs = state_store.list_labs()
    if len(labs) == 1:
        return labs[0]
    if len(labs) > 1 and spec_mod.DEFAULT_LAB not in labs:
        raise InputError("--name", "", f"{len(labs)} labs are running ({', '.join(labs[:6])}): choose one with --name")
    return spec_mod.DEFAULT_LAB


def _add_output(p: argparse.ArgumentParser, choices=("table", "json")) -> None:
    p.add_argument("-o", "--output", default="table", choices=choices, help="output format")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="The Kubernetes network model on one Linux machine.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what podnet does")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    up = sub.add_parser("up", help="bring a lab up (CLI in the foreground, or -d to detach)")
    _add_lab(up)
    up.add_argument("-t", "--topology", help="topology name in topologies/ or a YAML file (podnet or kind Cluster)")
    up.add_argument("--nodes", type=str, dest="node_count", help="number of nodes (default 3)")
    up.add_argument("--pods-per-node", type=str, help="Pods per node (default 2; 0 is fine)")
    up.add_argument("--cluster-cidr", help="Pod CIDR of the cluster (default 10.244.0.0/16)")
    up.add_argument("--node-cidr-mask-size", help="prefix length of each node's slice (default 24)")
    up.add_argument("--service-cluster-ip-range", help="Service CIDR (default 10.96.0.0/12)")
    up.add_argument("--underlay-cidr", help="node network (default 192.168.77.0/24)")
    up.add_argument("--cni", help="bridge, ptp, builtin, none or missing (default bridge)")
    up.add_argument("--max-pods", help="kubelet maxPods (default 110)")
    up.add_argument("--underlay", help="l2 (default: every node on one segment) or routed (two segments and a router)")
    up.add_argument("--routing", help="host-gw (default: podCIDR via node IP) or vxlan (flannel.1 overlay, Pod MTU 1450)")
    up.add_argument("--network-model", help="kubernetes (default) or docker: the same machines with "
                    "a Docker bridge each (172.17.0.0/16 everywhere, NAT, published ports)")
    up.add_argument("--static-arp", help="auto, on or off: permanent neighbour entries, "
                    "switched on by auto when a lab would overflow the kernel's shared ARP table")
    up.add_argument("--no-dns", action="store_true", help="no CoreDNS/kube-dns add-on")
    up.add_argument("--no-ip-masq-agent", action="store_true", help="no egress masquerade: Pod IPs leave the cluster as they are")
    up.add_argument("-f", "--filename", action="append", help="manifests to apply once the lab is up (repeatable)")
    up.add_argument("-d", "--detach", action="store_true", help="return once the lab is ready")
    _add_output(up)

    down = sub.add_parser("down", help="tear a lab down (idempotent)")
    _add_lab(down)
    _add_output(down)

    get = sub.add_parser("get", help="list nodes or Pods like kubectl get")
    _add_lab(get)
    get.add_argument("kind", help="nodes, pods, services (svc), endpoints (ep) or deployments (deploy)")
    get.add_argument("names", nargs="*", help="only these objects")
    get.add_argument("-n", "--namespace", default="default", help="Kubernetes namespace (default: default)")
    get.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace (kube-system too)")
    get.add_argument("-o", "--output", default="table", choices=commands.OUTPUTS)

    describe = sub.add_parser("describe", help="show a node or Pod with its events")
    _add_lab(describe)
    describe.add_argument("kind", help="node, pod, service or deployment")
    describe.add_argument("object", help="its name")
    describe.add_argument("-n", "--namespace", default="default", help="Kubernetes namespace (default: default)")
    _add_output(describe)

    execp = sub.add_parser("exec", help="run a command in a node's or Pod's namespace")
    _add_lab(execp)
    execp.add_argument("target", help="node or Pod name")
    execp.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")

    cni = sub.add_parser("cni", help="install a CNI plugin on a running lab")
    _add_lab(cni)
    cni.add_argument("action", choices=("install",))
    cni.add_argument("plugin", help="bridge, ptp or builtin")
    _add_output(cni)

    probe = sub.add_parser("probe", help="send a probe and show where it arrived and how (or --all: the matrix)")
    _add_lab(probe)
    probe.add_argument("source", nargs="?", help="node or Pod to send from")
    probe.add_argument("destination", nargs="?", help="address, node or Pod")
    probe.add_argument("-p", "--protocol", default="icmp", help="icmp, udp or tcp (default icmp)")
    probe.add_argument("--port", help="destination port (udp and tcp)")
    probe.add_argument("--timeout", default="1", help="seconds to wait (default 1)")
    probe.add_argument("--all", action="store_true", help="every Pod and node to every Pod, UDP and TCP")
    probe.add_argument("--protocols", default="udp,tcp", help="with --all: udp, tcp or udp,tcp")
    probe.add_argument("--no-nodes", action="store_true", help="with --all: Pods only, no node-to-Pod pairs")
    _add_output(probe)

    compare = sub.add_parser("compare", help="measure Kubernetes' flat network against a Docker bridge, side by side")
    compare.add_argument("--name", default="compare", help="prefix of the two labs (default compare)")
    compare.add_argument("--nodes", default="3", help="machines in each lab (default 3, at least 2)")
    compare.add_argument("--pods-per-node", default="2", help="workloads per machine (default 2)")
    compare.add_argument("--keep", action="store_true", help="leave both labs running afterwards")
    _add_output(compare)

    capture = sub.add_parser("capture", help="capture packets in a node's or Pod's namespace (pcap + named summary)")
    _add_lab(capture)
    capture.add_argument("target", help="node or Pod to capture in")
    capture.add_argument("-i", "--interface", help="interface (default: eth0 in a Pod, any in a node)")
    capture.add_argument("-f", "--filter", default="", help="BPF filter, e.g. 'icmp or udp port 8081'")
    capture.add_argument("-c", "--count", default="10", help="stop after this many packets (default 10)")
    capture.add_argument("--duration", default="10", help="stop after this many seconds (default 10)")
    capture.add_argument("-w", "--write", help="save the pcap here (a new file, mode 0600)")
    _add_output(capture)

    plan = sub.add_parser("plan", help="size a cluster: nodes, Pods, Services, kubeadm's rules, what breaks first")
    plan.add_argument("--cluster-cidr", default=spec_mod.DEFAULT_CLUSTER_CIDR, help="Pod CIDR (default 10.244.0.0/16)")
    plan.add_argument("--node-cidr-mask-size", default=str(spec_mod.DEFAULT_NODE_MASK), help="node slice (default 24)")
    plan.add_argument("--service-cluster-ip-range", default=spec_mod.DEFAULT_SERVICE_CIDR, help="default 10.96.0.0/12")
    plan.add_argument("--max-pods", default=str(spec_mod.DEFAULT_MAX_PODS), help="kubelet maxPods (default 110)")
    plan.add_argument("--nodes", help="grow to this many nodes")
    plan.add_argument("--pods", help="grow to this many Pods")
    plan.add_argument("--services", help="grow to this many Services")
    plan.add_argument("--vpc-subnet", help="VPC-native: the node subnet Pods draw addresses from")
    _add_output(plan)

    routing = sub.add_parser("routing", help="switch a running lab between host-gw and vxlan")
    _add_lab(routing)
    routing.add_argument("mode", help="host-gw or vxlan")
    _add_output(routing)

    cli = sub.add_parser("cli", help="open the interactive CLI on a running lab")
    _add_lab(cli)

    lst = sub.add_parser("list", help="list labs on this machine")
    _add_output(lst)

    clean = sub.add_parser("clean", help="remove what crashed or killed labs left behind")
    clean.add_argument("--name", help="only this lab (even if it looks alive)")
    _add_output(clean)

    from podnet import cli_workloads

    cli_workloads.add_parsers(sub, _add_lab, _add_output)
    from podnet import cli_labs

    cli_labs.add_parsers(sub, _add_output)
    cli_course.add_parsers(sub)

    sub.add_parser("bench", help="time up and down of clusters of several sizes (see 'podnet bench --help')",
                   add_help=False)
    return parser


def _require_root() -> None:
    if os.geteuid() != 0:
        raise PodnetError("podnet needs root to work with network namespaces (run it with sudo)")


def _on_signal(signum, _frame):
    raise Terminated(signal.Signals(signum).name)


def _progress_printer(enabled: bool):
    def show(stage: str, done: int, total: int) -> None:
        if not enabled:
            return
        width = 24
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r  {stage:<7}[{'#' * filled}{'.' * (width - filled)}] {done}/{total}   ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


# -- commands ------------------------------------------------------------------------------------

def cmd_up(args) -> int:
    overrides = {
        "name": args.name, "cluster_cidr": args.cluster_cidr,
        "node_cidr_mask_size": args.node_cidr_mask_size, "service_cidr": args.service_cluster_ip_range,
        "underlay_cidr": args.underlay_cidr, "cni": args.cni, "max_pods": args.max_pods,
        "node_count": args.node_count, "pods_per_node": args.pods_per_node,
        "static_arp": args.static_arp, "model": args.network_model, "routing": args.routing,
        "underlay": args.underlay,
        "cluster_dns": False if args.no_dns else None,
        "ip_masq_agent": False if args.no_ip_masq_agent else None,
    }
    topology = spec_mod.topology_path(args.topology, TOPOLOGIES_DIR) if args.topology else None
    if args.filename:
        from podnet.workloads.manifests import read_file

        for path in args.filename:
            read_file(path)  # validated now: bad input stops before anything exists
        documents = []
        for path in args.filename:
            import yaml

            with open(path, encoding="utf-8") as handle:
                documents += [d for d in yaml.safe_load_all(handle) if d is not None]
        overrides["workloads"] = list(spec_mod.read_topology(topology).get("workloads", [])) + documents \
            if topology else documents
    spec = spec_mod.spec_from_sources(topology, overrides)
    _require_root()
    if state_store.exists(spec.name):
        raise errors.LabConflict(
            f"lab {spec.name!r} already exists: stop it with 'podnet down --name {spec.name}' "
            f"(or 'podnet clean --name {spec.name}' if it crashed), or pick another --name"
        )
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    started = time.perf_counter()
    try:
        show = _progress_printer(sys.stderr.isatty() and args.output != "json")
        try:
            # up either returns a complete lab or has removed all it made (and says nothing
            # of a name it was refused: that lab belongs to someone else).
            lab = controller.up(spec, show, detached=args.detach)
        except (KeyboardInterrupt, Terminated):
            sys.stderr.write(f"{PROG}: bring-up of lab {spec.name!r} stopped; everything it made was removed\n")
            raise
        elapsed = time.perf_counter() - started
        if args.detach:
            lab.close()  # the lab outlives this command: even a closed stdout must not end it
            _print_up_summary(lab, elapsed, args.output)
            return EXIT_OK
        try:
            return _run_cli(lab, elapsed)
        finally:
            controller.block_stop_signals()
            lab.close()
            report = controller.teardown(spec.name)
            sys.stderr.write(f"{PROG}: lab {spec.name!r} torn down ({len(report.deleted)} namespaces removed)\n")
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _print_up_summary(lab: controller.Lab, elapsed: float, output: str) -> None:
    state = lab.state
    running = sum(1 for p in state.pods.values() if p.phase == RUNNING)
    if output == "json":
        print(json.dumps({
            "lab": state.name, "seconds": round(elapsed, 3), "nodes": len(state.nodes),
            "pods": len(state.pods), "running": running, "warnings": _warnings(state),
            "items": {"nodes": [commands.views.node_json(state, n) for n in state.nodes.values()],
                      "pods": [commands.views.pod_json(state, p) for p in state.pods.values()]},
        }, indent=2))
        return
    if state.spec.model == "docker":
        print(f"lab {state.name} is up in {elapsed:.2f}s: {len(state.nodes)} Docker hosts, {running}/{len(state.pods)} "
              "containers running (docker0 172.17.0.0/16 on every host, MASQUERADE, published ports)")
    else:
        system = [p for p in state.pods.values() if p.namespace == "kube-system"]
        workloads = [p for p in state.pods.values() if p.namespace != "kube-system"]
        up_count = sum(1 for p in workloads if p.phase == RUNNING)
        addons = (f"; CoreDNS {system[0].phase} at {state.services['kube-system/kube-dns'].cluster_ip}"
                  if system and "kube-system/kube-dns" in state.services else "")
        print(f"lab {state.name} is up in {elapsed:.2f}s: {len(state.nodes)} nodes, {up_count}/{len(workloads)} Pods Running "
              f"(cni {state.spec.cni}, routing {state.spec.routing}"
              + (", routed underlay: two L2 segments and a router" if state.spec.underlay == "routed" else "") + f"{addons})")
        for warning in _warnings(state):
            print(f"warning: {warning}")
    print()
    print(commands.get(state, "nodes"))
    print()
    print(commands.get(state, "pods", "wide"))


def _warnings(state) -> list[str]:
    """What the lab cannot do as built: host-gw routes across a routed underlay."""
    from podnet.routing import hostgw

    if state.spec.routing != "host-gw":
        return []
    return [f"{node.name} {reason}" for node in state.nodes.values() for reason in hostgw.unroutable(state, node.name)]


def _run_cli(lab: controller.Lab, elapsed: float) -> int:
    """The Mininet CLI on a fresh lab; the caller tears the lab down afterwards."""
    from mininet.log import setLogLevel

    from podnet.cluster.network import PodnetNet
    from podnet.shell import PodnetCLI

    tty = sys.stdin.isatty()
    setLogLevel("info" if tty else "output")
    net = PodnetNet(lab.state)
    try:
        if tty:
            _print_up_summary(lab, elapsed, "table")
            print("\nType 'help' for commands; a node or Pod name first runs a command there. 'exit' tears the lab down.")
        cli = PodnetCLI(net, lab)
        failed = cli.failed_lines
    finally:
        net.stop_shells()
    if failed and not tty:
        sys.stderr.write(f"{PROG}: {len(failed)} line(s) failed: {'; '.join(failed[:5])}\n")
        return EXIT_FAILED
    return EXIT_OK


def cmd_cli(args) -> int:
    from mininet.log import setLogLevel

    from podnet.cluster.network import PodnetNet
    from podnet.shell import PodnetCLI

    _require_root()
    lab = controller.Lab.open(_lab_name(args.name))
    setLogLevel("info" if sys.stdin.isatty() else "output")
    net = PodnetNet(lab.state)
    try:
        cli = PodnetCLI(net, lab)
    finally:
        net.stop_shells()
        lab.close()
    return EXIT_FAILED if cli.failed_lines else EXIT_OK


def cmd_down(args) -> int:
    name = _lab_name(args.name)
    _require_root()
    controller.block_stop_signals()
    existed = state_store.exists(name)
    report = controller.teardown(name)
    if args.output == "json":
        print(json.dumps(dict(report.to_json(), existed=existed), indent=2))
    elif not existed:
        print(f"lab {name} is not running: nothing to do")
    else:
        gone = f", {len(report.already_gone)} were already gone" if report.already_gone else ""
        killed = f", {len(report.killed)} processes ended" if report.killed else ""
        print(f"lab {name} is down: {len(report.deleted)} namespaces removed{gone}{killed}")
    return EXIT_OK


def cmd_get(args) -> int:
    check_dns1123_label("namespace", args.namespace)
    state = state_store.load(_lab_name(args.name))
    print(commands.get(state, args.kind, args.output, args.names, None if args.all_namespaces else args.namespace))
    return EXIT_OK


def cmd_describe(args) -> int:
    check_dns1123_label("namespace", args.namespace)
    state = state_store.load(_lab_name(args.name))
    if args.output == "json":
        print(commands.describe_json(state, args.kind, args.object, args.namespace))
    else:
        print(commands.describe(state, args.kind, args.object, args.namespace))
    return EXIT_OK


def cmd_exec(args) -> int:
    argv = list(args.argv)
    if argv[:1] == ["--name"] and len(argv) > 1 and args.name is None:
        args.name = argv[1]  # "podnet exec POD --name LAB -- CMD" reads naturally too
        argv = argv[2:]
    state = state_store.load(_lab_name(args.name))
    argv = argv[1:] if argv[:1] == ["--"] else argv
    if not argv:
        raise InputError("command", "", "give one after --, e.g. podnet exec pod-1-1 -- ip addr")
    target = args.target
    if target in state.pods:
        pod = state.pods[target]
        if pod.phase != RUNNING:
            raise PodnetError(f"pod {target} is {pod.phase}, it has no sandbox to exec into (see 'podnet describe pod {target}')")
    elif target not in state.nodes and not (state.external and target in (INTERNET_NAME, EXTERNAL_NAME)):
        raise InputError("target", target, "must be a node or Pod of lab " + state.name + " (or external, internet)")
    _require_root()
    path = os.path.join("/run/netns", netns_name(state.name, target))
    sys.stdout.flush()
    resolv = os.path.join(state_store.LabPaths(state.name).root, "dns", f"resolv.{state.pods[target].namespace}.conf") \
        if target in state.pods else None
    if resolv and os.path.exists(resolv) and os.path.exists("/etc/resolv.conf"):
        # Like the kubelet's resolv.conf for the Pod: bind-mounted in a private mount namespace
        # for this command only. The paths and the command are arguments, never shell text.
        script = 'mount --bind "$1" /etc/resolv.conf && net="$2" && shift 2 && exec nsenter --net="$net" -- "$@"'
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
                              resolv, path, *argv])
    os.execvp("nsenter", ["nsenter", f"--net={path}", "--", *argv])
    return EXIT_FAILED  # not reached


def cmd_cni(args) -> int:
    name = _lab_name(args.name)
    from podnet.cni.config import INSTALL_CHOICES

    if args.plugin not in INSTALL_CHOICES:
        raise InputError("cni plugin", args.plugin, "can install " + ", ".join(INSTALL_CHOICES))
    _require_root()
    lab = controller.Lab.open(name)
    try:
        with state_store.LabLock(lab.paths):
            lab.install_cni(args.plugin, _progress_printer(sys.stderr.isatty()))
    finally:
        lab.close()
    if args.output == "json":
        print(commands.get(lab.state, "pods", "json"))
    else:
        print(commands.get(lab.state, "pods", "wide"))
    running = sum(1 for p in lab.state.pods.values() if p.phase == RUNNING)
    return EXIT_OK if running == len(lab.state.pods) else EXIT_FAILED


def cmd_probe(args) -> int:
    from podnet.probes import matrix, report
    from podnet.probes.runner import ProbeSession
    from podnet.probes.verdict import REACHED, summary
    from podnet.routing import neighbours

    name = _lab_name(args.name)
    timeout = parse_seconds("timeout", args.timeout)
    if args.all:
        if args.source or args.destination:
            raise InputError("probe", args.source, "--all takes no source or destination")
        protocols = tuple(p for p in args.protocols.split(",") if p)
        if not protocols or any(p not in ("udp", "tcp") for p in protocols):
            raise InputError("protocols", args.protocols, "use udp, tcp or udp,tcp")
    else:
        if not args.source or not args.destination:
            raise InputError("probe", " ".join(filter(None, [args.source, args.destination])) or "",
                             "give SOURCE and DESTINATION, or --all")
        port = None
        if args.port is not None:
            from podnet.addressing import parse_int
            port = parse_int("port", args.port, 1, 65535)
        if args.protocol not in ("icmp", "udp", "tcp"):
            raise InputError("protocol", args.protocol, "use icmp, udp or tcp")
        if args.protocol != "icmp" and port is None:
            raise InputError("port", "", f"a {args.protocol} probe needs --port")
    _require_root()
    lab = controller.Lab.open(name)
    try:
        if args.all:
            show = _progress_printer(sys.stderr.isatty() and args.output != "json")
            result = matrix.run(lab, protocols, include_nodes=not args.no_nodes,
                                timeout=max(timeout, 2.0), progress=show)
            if result.prefilled_neighbours:
                with state_store.LabLock(lab.paths):
                    lab.save()
                sys.stderr.write(f"{PROG}: wrote {result.prefilled_neighbours} permanent neighbour (ARP) entries first: "
                                 "a full mesh of this lab would overflow the kernel's shared ARP table "
                                 f"(gc_thresh3 {neighbours.read_gc_thresh3()}); the lab keeps them\n")
            if args.output == "json":
                print(json.dumps(result.to_json(), indent=2))
            else:
                node_of = {p.name: p.node for p in lab.state.pods.values()}
                print(report.grid(result, node_of))
                print(report.legend(result))
                print(report.summary_line(result))
                for line in report.failure_lines(result):
                    print(line)
            return EXIT_OK if result.ok else EXIT_FAILED
        session = ProbeSession(lab)
        try:
            verdict = session.probe(args.source, args.destination, args.protocol, port, timeout)
        finally:
            session.close()
        if args.output == "json":
            print(json.dumps(verdict.to_json(), indent=2))
        else:
            print(summary(verdict, session.describer(args.source)))
            for seen in verdict.path:
                print(f"  seen in {seen.name:<12} {seen.iface:<14} {seen.direction:<3} "
                      f"{seen.src}{':' + str(seen.sport) if seen.sport else ''} -> "
                      f"{seen.dst}{':' + str(seen.dport) if seen.dport else ''}  ttl {seen.ttl}")
        return EXIT_OK if verdict.status == REACHED else EXIT_FAILED
    finally:
        lab.close()


def cmd_compare(args) -> int:
    from podnet import compare
    from podnet.addressing import parse_int

    prefix = check_lab_name(args.name)
    nodes = parse_int("nodes", args.nodes, 2, 20)
    per_node = parse_int("pods-per-node", args.pods_per_node, 1, 20)
    for suffix in ("k8s", "docker"):
        check_lab_name(f"{prefix}-{suffix}")
        if state_store.exists(f"{prefix}-{suffix}"):
            raise errors.LabConflict(f"lab {prefix}-{suffix} already exists: 'podnet down --name {prefix}-{suffix}' first")
    _require_root()
    k8s, docker = compare.run(prefix, nodes, per_node, keep=args.keep,
                              progress=_progress_printer(sys.stderr.isatty() and args.output != "json"))
    if args.output == "json":
        print(json.dumps({"kubernetes": k8s.to_json(), "docker": docker.to_json(),
                          "rows": [dict(zip(("aspect", "kubernetes", "docker"), r)) for r in compare.rows(k8s, docker)]},
                         indent=2))
    else:
        print(f"Kubernetes flat network vs Docker bridge: {nodes} machines, {per_node} workloads on each, measured")
        print()
        print(commands.views.table(["", "KUBERNETES (podnet, bridge CNI)", "DOCKER (docker0 on each host)"],
                                   compare.rows(k8s, docker)))
        print()
        print("Evidence (real probes):")
        for side in (k8s, docker):
            for line in side.evidence:
                print(f"  [{side.model}] {line}")
        if args.keep:
            print(f"\nBoth labs are still up: --name {prefix}-k8s and --name {prefix}-docker")
    broken = [v for side in (k8s, docker) for v in (side.cross_host, side.to_workload) if v is None or v.status == "error"]
    return EXIT_FAILED if broken else EXIT_OK


def cmd_capture(args) -> int:
    from podnet import capture
    from podnet.addressbook import AddressBook

    state = state_store.load(_lab_name(args.name))
    count = capture.check_count(args.count)
    duration = parse_seconds("duration", args.duration, 3600)
    book = AddressBook(state)
    netns = book.netns_of(args.target)
    if netns is None:
        raise InputError("target", args.target, "must be a node, a Running Pod or (routed underlay) router of lab " + state.name)
    if args.interface is None:
        args.interface = "eth0" if args.target in state.pods else "any"
    if args.interface != "any" and (len(args.interface) > 15 or not args.interface.replace("-", "").replace(".", "").replace("_", "").isalnum()):
        raise InputError("interface", args.interface, "must be an interface name (at most 15 characters) or any")
    bpf = args.filter.split() if args.filter else []
    if any(word.startswith("-") for word in bpf[:1]):
        raise InputError("filter", args.filter, "must be a BPF expression, not an option")
    output = capture.open_output(args.write) if args.write else None
    _require_root()
    try:
        if sys.stderr.isatty():
            sys.stderr.write(f"capturing in {args.target} ({netns}) on {args.interface}: up to {count} packets "
                             f"or {duration:g}s ...\n")
        pcap = capture.run_tcpdump(netns, args.interface, bpf, count, duration)
        if output is not None:
            output.write(pcap)
    except BaseException:
        if output is not None:
            output.close()
            os.unlink(args.write)
        raise
    finally:
        if output is not None and not output.closed:
            output.close()
    near = state.pods[args.target].node if args.target in state.pods else args.target
    lines = capture.describe(pcap, book, near)
    if args.output == "json":
        print(json.dumps({"target": args.target, "netns": netns, "pcap": args.write,
                          "packets": capture.to_json(lines)}, indent=2))
    else:
        for line in lines:
            print(line.text())
        print(f"{len(lines)} IPv4 packet(s) captured in {args.target}" + (f"; pcap saved to {args.write}" if args.write else ""))
    return EXIT_OK


def cmd_plan(args) -> int:
    from podnet import sizing

    result = sizing.plan(args.cluster_cidr, args.node_cidr_mask_size, args.service_cluster_ip_range,
                         args.max_pods, args.nodes, args.pods, args.services, args.vpc_subnet)
    if args.output == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(sizing.render(result))
    return EXIT_OK if result.valid and not result.limits else EXIT_FAILED  # 1: invalid, or the growth does not fit


def cmd_routing(args) -> int:
    name = _lab_name(args.name)
    if args.mode not in spec_mod.ROUTING_CHOICES:
        raise InputError("routing", args.mode, "must be one of " + ", ".join(spec_mod.ROUTING_CHOICES))
    _require_root()
    lab = controller.Lab.open(name)
    try:
        before = lab.state.spec.routing
        started = time.perf_counter()
        with state_store.LabLock(lab.paths):
            counts = lab.switch_routing(args.mode)
        elapsed = time.perf_counter() - started
    finally:
        lab.close()
    if args.output == "json":
        print(json.dumps(dict(counts, lab=name, before=before, after=args.mode, seconds=round(elapsed, 4)), indent=2))
    else:
        print(f"lab {name}: routing {before} -> {args.mode} in {elapsed:.2f}s "
              f"({counts['routesRemoved']} routes removed, {counts['routesAdded']} added, "
              f"{counts['interfaces']} interfaces set to MTU {1450 if args.mode == 'vxlan' else 1500})")
    return EXIT_OK


def cmd_list(args) -> int:
    rows = []
    for name in state_store.list_labs():
        raw = state_store.load_raw(name) or {}
        pods = raw.get("pods", [])
        rows.append({
            "name": name, "status": raw.get("status", "unknown"),
            "nodes": len(raw.get("nodes", [])), "pods": len(pods),
            "running": sum(1 for p in pods if p.get("phase") == RUNNING),
            "cni": raw.get("spec", {}).get("cni"), "detached": raw.get("detached", False),
            "stale": name in controller.stale_labs(),
        })
    if args.output == "json":
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no labs")
    else:
        print(commands.views.table(
            ["NAME", "STATUS", "NODES", "PODS", "CNI", "MODE"],
            [[r["name"], "stale" if r["stale"] else r["status"], r["nodes"], f"{r['running']}/{r['pods']}",
              r["cni"], "detached" if r["detached"] else "foreground"] for r in rows],
        ))
    return EXIT_OK


def cmd_clean(args) -> int:
    stale = controller.stale_labs()
    if args.name and check_lab_name(args.name) not in stale and state_store.exists(args.name):
        raise errors.LabConflict(f"lab {args.name!r} is not stale (it is running, or still starting): "
                                 f"stop it with 'podnet down --name {args.name}'")
    names = [args.name] if args.name else stale
    _require_root()
    controller.block_stop_signals()
    reports = [controller.teardown(name) for name in names]
    if args.output == "json":
        print(json.dumps([r.to_json() for r in reports], indent=2))
    elif not reports:
        print("nothing to clean")
    else:
        for r in reports:
            print(f"cleaned lab {r.lab}: {len(r.deleted)} namespaces removed, {len(r.killed)} processes ended")
    return EXIT_OK


HANDLERS = {
    "up": cmd_up, "down": cmd_down, "get": cmd_get, "describe": cmd_describe, "exec": cmd_exec,
    "cni": cmd_cni, "cli": cmd_cli, "list": cmd_list, "clean": cmd_clean, "probe": cmd_probe,
    "compare": cmd_compare, "capture": cmd_capture, "routing": cmd_routing,
    "plan": cmd_plan,
}
HANDLERS.update(cli_course.HANDLERS)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        from podnet import bench  # its own flags, parsed by its own parser

        return bench.main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    ours = logging.getLogger("podnet")
    ours.addHandler(handler)
    ours.setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        from podnet import cli_workloads

        if args.command in cli_workloads.HANDLERS:
            return cli_workloads.HANDLERS[args.command](args, _lab_name, _progress_printer)
        if args.command == "lab":
            from podnet import cli_labs

            return cli_labs.cmd_lab(args, _lab_name, _progress_printer)
        return HANDLERS[args.command](args)
    except InputError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return exc.exit_code
    except PodnetError as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        return exc.exit_code
    except (KeyboardInterrupt, Terminated) as exc:
        sys.stderr.write(f"{PROG}: {'terminated' if isinstance(exc, Terminated) else 'interrupted'}\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILED
    except PermissionError as exc:
        sys.stderr.write(f"{PROG}: permission denied ({exc.filename or exc}): podnet needs root (run it with sudo)\n")
        return EXIT_FAILED
    except Exception as exc:  # a bug: say so in one line; -v shows the traceback
        if args.verbose:
            raise
        sys.stderr.write(f"{PROG}: internal error: {type(exc).__name__}: {exc} (run with -v for details)\n")
        return EXIT_FAILED
