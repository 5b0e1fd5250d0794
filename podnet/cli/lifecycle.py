"""``podnet up|down|cli|list|clean``: a lab's life, as containerlab's deploy/destroy/inspect.

Mirrors ``containerlab deploy`` (here: ``up``, in the foreground with Mininet's CLI, or
detached with ``-d``), ``destroy`` (``down``, idempotent), ``inspect --all`` (``list``) and a
crash cleanup scoped to what a lab recorded (``clean``). Exit codes: 0 done, 1 a line of a
piped CLI session failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import json
import signal
import sys
import time

from podnet.cli.common import (
    PROG, TOPOLOGIES_DIR, Terminated, add_lab, add_output, check_listen, lab_name, on_signal, open_lab, require_root,
    stderr_progress,
)
from podnet.core import topology
from podnet.core.errors import EXIT_FAILED, EXIT_OK, LabConflict
from podnet.core.model import RUNNING
from podnet.core.naming import check_lab_name
from podnet.k8s.routing import hostgw
from podnet.kernel import state_file
from podnet.lab import apiserver
from podnet.lab.bringup import up as bring_up
from podnet.lab.classroom import lab_rows
from podnet.lab.session import Lab
from podnet.lab.signals import block_stop_signals
from podnet.lab.teardown import stale_labs, teardown
from podnet.views import kubectl
from podnet.core.tables import age, table
from podnet.views.cluster import node_json, pod_json


def add_parsers(sub) -> None:
    up = sub.add_parser("up", help="bring a lab up (CLI in the foreground, or -d to detach)")
    add_lab(up)
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
    up.add_argument("--no-api", action="store_true",
                    help="no Kubernetes API server for kubectl (podnet kubeconfig prints how to reach it)")
    up.add_argument("--api-listen", default=apiserver.DEFAULT_LISTEN,
                    help=f"address the lab's API server listens on (default {apiserver.DEFAULT_LISTEN}; another one "
                         "must be asked for)")
    up.add_argument("--no-ip-masq-agent", action="store_true", help="no egress masquerade: Pod IPs leave the cluster as they are")
    up.add_argument("-f", "--filename", action="append", help="manifests to apply once the lab is up (repeatable)")
    up.add_argument("-d", "--detach", action="store_true", help="return once the lab is ready")
    add_output(up)

    down = sub.add_parser("down", help="tear a lab down (idempotent)")
    add_lab(down)
    add_output(down)

    cli = sub.add_parser("cli", help="open the interactive CLI on a running lab")
    add_lab(cli)

    lst = sub.add_parser("list", help="list labs on this machine: owner, age, size, memory, health")
    add_output(lst)

    clean = sub.add_parser("clean", help="remove what crashed or killed labs left behind")
    clean.add_argument("--name", help="only this lab (even if it looks alive)")
    add_output(clean)


def _spec_of(args):
    """The spec from a topology file and the flags (which win), validated: nothing exists yet."""
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
    path = topology.topology_path(args.topology, TOPOLOGIES_DIR) if args.topology else None
    if args.filename:
        from podnet.k8s.workloads.manifests import read_documents

        documents = [doc for name in args.filename for doc in read_documents(name)]
        overrides["workloads"] = list(topology.read_topology(path).get("workloads", [])) + documents if path else documents
    return topology.spec_from_sources(path, overrides)


def cmd_up(args) -> int:
    spec = _spec_of(args)
    api_listen = None if args.no_api else check_listen(args.api_listen, "api-listen")
    require_root()
    if state_file.exists(spec.name):
        raise LabConflict(
            f"lab {spec.name!r} already exists: stop it with 'podnet down --name {spec.name}' "
            f"(or 'podnet clean --name {spec.name}' if it crashed), or pick another --name"
        )
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    started = time.perf_counter()
    try:
        try:
            # up either returns a complete lab or has removed all it made (and says nothing
            # of a name it was refused: that lab belongs to someone else).
            lab = bring_up(spec, stderr_progress(args.output), detached=args.detach, api=api_listen)
        except (KeyboardInterrupt, Terminated):
            sys.stderr.write(f"{PROG}: bring-up of lab {spec.name!r} stopped; everything it made was removed\n")
            raise
        elapsed = time.perf_counter() - started
        if args.detach:
            lab.close()  # the lab outlives this command: even a closed stdout must not end it
            print_up_summary(lab, elapsed, args.output)
            return EXIT_OK
        try:
            return _run_cli(lab, elapsed)
        finally:
            block_stop_signals()
            lab.close()
            report = teardown(spec.name)
            sys.stderr.write(f"{PROG}: lab {spec.name!r} torn down ({len(report.deleted)} namespaces removed)\n")
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def print_up_summary(lab: Lab, elapsed: float, output: str) -> None:
    state = lab.state
    running = sum(1 for p in state.pods.values() if p.phase == RUNNING)
    if output == "json":
        print(json.dumps({
            "lab": state.name, "seconds": round(elapsed, 3), "nodes": len(state.nodes),
            "pods": len(state.pods), "running": running, "warnings": warnings(state),
            "api": apiserver.running(state.name),
            "items": {"nodes": [node_json(state, n) for n in state.nodes.values()],
                      "pods": [pod_json(state, p) for p in state.pods.values()]},
        }, indent=2))
        return
    print(_headline(state, elapsed, running))
    for warning in warnings(state):
        print(f"warning: {warning}")
    print()
    print(kubectl.get(state, "nodes"))
    print()
    print(kubectl.get(state, "pods", "wide"))
    if apiserver.running(state.name):
        print(f"\nkubectl works too: podnet kubeconfig --name {state.name} > {state.name}.kubeconfig; "
              f"KUBECONFIG={state.name}.kubeconfig kubectl get pods -o wide")


def _headline(state, elapsed: float, running: int) -> str:
    if state.spec.model == "docker":
        return (f"lab {state.name} is up in {elapsed:.2f}s: {len(state.nodes)} Docker hosts, {running}/{len(state.pods)} "
                "containers running (docker0 172.17.0.0/16 on every host, MASQUERADE, published ports)")
    system = [p for p in state.pods.values() if p.namespace == "kube-system"]
    workloads = [p for p in state.pods.values() if p.namespace != "kube-system"]
    up_count = sum(1 for p in workloads if p.phase == RUNNING)
    addons = (f"; CoreDNS {system[0].phase} at {state.services['kube-system/kube-dns'].cluster_ip}"
              if system and "kube-system/kube-dns" in state.services else "")
    routed = ", routed underlay: two L2 segments and a router" if state.spec.underlay == "routed" else ""
    return (f"lab {state.name} is up in {elapsed:.2f}s: {len(state.nodes)} nodes, {up_count}/{len(workloads)} Pods Running "
            f"(cni {state.spec.cni}, routing {state.spec.routing}{routed}{addons})")


def warnings(state) -> list[str]:
    """What the lab cannot do as built: host-gw routes across a routed underlay."""
    if state.spec.routing != "host-gw":
        return []
    return [f"{node.name} {reason}" for node in state.nodes.values() for reason in hostgw.unroutable(state, node.name)]


def _run_cli(lab: Lab, elapsed: float) -> int:
    """The Mininet CLI on a fresh lab; the caller tears the lab down afterwards."""
    from podnet.cli.shell import run_shell

    tty = sys.stdin.isatty()
    if tty:
        print_up_summary(lab, elapsed, "table")
        print("\nType 'help' for commands; a node or Pod name first runs a command there. 'exit' tears the lab down.")
    failed = run_shell(lab)
    if failed and not tty:
        sys.stderr.write(f"{PROG}: {len(failed)} line(s) failed: {'; '.join(failed[:5])}\n")
        return EXIT_FAILED
    return EXIT_OK


def cmd_cli(args) -> int:
    from podnet.cli.shell import run_shell

    lab = open_lab(lab_name(args.name))
    try:
        failed = run_shell(lab)
    finally:
        lab.close()
    return EXIT_FAILED if failed else EXIT_OK


def cmd_down(args) -> int:
    name = lab_name(args.name)
    require_root()
    block_stop_signals()
    existed = state_file.exists(name)
    report = teardown(name)
    if args.output == "json":
        print(json.dumps(dict(report.to_json(), existed=existed), indent=2))
    elif not existed:
        print(f"lab {name} is not running: nothing to do")
    else:
        gone = f", {len(report.already_gone)} were already gone" if report.already_gone else ""
        killed = f", {len(report.killed)} processes ended" if report.killed else ""
        print(f"lab {name} is down: {len(report.deleted)} namespaces removed{gone}{killed}")
    return EXIT_OK


def cmd_list(args) -> int:
    """Every lab with its owner (who ran sudo to bring it up), age, size, memory held and health."""
    rows = lab_rows()
    if args.output == "json":
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no labs")
    else:
        print(table(
            ["NAME", "STATUS", "OWNER", "AGE", "NODES", "PODS", "MEMORY", "HEALTH", "CNI", "MODE"],
            [[r["name"], "stale" if r["stale"] else r["status"], r["owner"], age(r["created"]), r["nodes"],
              f"{r['running']}/{r['pods']}", f"{r['memoryBytes'] / 1048576:.0f}Mi", r["health"], r["cni"],
              "detached" if r["detached"] else "foreground"] for r in rows],
        ))
    return EXIT_OK


def cmd_clean(args) -> int:
    stale = stale_labs()
    if args.name and check_lab_name(args.name) not in stale and state_file.exists(args.name):
        raise LabConflict(f"lab {args.name!r} is not stale (it is running, or still starting): "
                          f"stop it with 'podnet down --name {args.name}'")
    names = [args.name] if args.name else stale
    require_root()
    block_stop_signals()
    reports = [teardown(name) for name in names]
    if args.output == "json":
        print(json.dumps([r.to_json() for r in reports], indent=2))
    elif not reports:
        print("nothing to clean")
    else:
        for r in reports:
            print(f"cleaned lab {r.lab}: {len(r.deleted)} namespaces removed, {len(r.killed)} processes ended")
    return EXIT_OK


HANDLERS = {"up": cmd_up, "down": cmd_down, "cli": cmd_cli, "list": cmd_list, "clean": cmd_clean}
