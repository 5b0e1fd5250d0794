"""``podnet apply|delete|logs|connect|trace|sync``: workloads and Services on a running lab.

Mirrors kubectl's verbs for the same job (``apply -f``, ``delete KIND NAME`` or ``-f``,
``logs``), plus what a student does inside a Pod to see Services work (``connect``: a real
TCP or UDP exchange, by DNS name, with the answering Pod and the client address it saw) and
``trace``, which names the kind of traffic and shows each address rewrite. Part of the command
line: prints, and returns exit codes (0 done, 1 a failed exchange or trace, 2 bad input).
"""

from __future__ import annotations

import json
import sys

from podnet import controller, state as state_store
from podnet.addressing import parse_int, parse_seconds
from podnet.errors import EXIT_FAILED, EXIT_OK, InputError
from podnet.model import RUNNING
from podnet.naming import check_dns1123_label


def add_parsers(sub, add_lab, add_output) -> None:
    apply = sub.add_parser("apply", help="create or update Pods, Deployments and Services from manifests")
    add_lab(apply)
    apply.add_argument("-f", "--filename", action="append", required=True, help="YAML file (repeatable; - for stdin)")
    add_output(apply)

    delete = sub.add_parser("delete", help="delete Pods, Deployments or Services (a Deployment replaces its Pods)")
    add_lab(delete)
    delete.add_argument("kind", nargs="?", help="pod, deployment or service")
    delete.add_argument("names", nargs="*", help="object names")
    delete.add_argument("-f", "--filename", action="append", help="delete what this YAML file names")
    delete.add_argument("-n", "--namespace", default="default", help="Kubernetes namespace (default: default)")
    add_output(delete)

    logs = sub.add_parser("logs", help="what a Pod's container printed (its echo or DNS server)")
    add_lab(logs)
    logs.add_argument("pod", help="Pod name")
    logs.add_argument("--tail", default="50", help="last N lines (default 50; -1 for all)")

    connect = sub.add_parser("connect", help="real TCP/UDP requests from a Pod, node or the external client; "
                             "shows which Pod answered and the address it saw")
    add_lab(connect)
    connect.add_argument("source", help="Pod, node, external (the client outside the cluster) or internet")
    connect.add_argument("target", help="HOST[:PORT]: a Service DNS name (web, web.default.svc.cluster.local), "
                         "an IP, a Pod or node name")
    connect.add_argument("--port", help="port, if not in TARGET")
    connect.add_argument("-p", "--protocol", default="tcp", help="tcp (default) or udp")
    connect.add_argument("-c", "--count", default="1", help="requests to send (default 1)")
    connect.add_argument("--size", default="64", help="bytes per request (default 64)")
    connect.add_argument("--timeout", default="2", help="seconds per request (default 2)")
    add_output(connect)

    trace = sub.add_parser("trace", help="which of the four kinds of traffic a flow is, hop by hop, with every rewrite")
    add_lab(trace)
    trace.add_argument("source", help="Pod, node, external or internet")
    trace.add_argument("destination", help="DST[:PORT]: a Pod, node, Service (web, ns/web), internet or an IP")
    trace.add_argument("-p", "--protocol", help="tcp, udp or icmp (default: the Service port's, tcp with a port, else icmp)")
    trace.add_argument("--timeout", default="1", help="seconds to wait (default 1)")
    add_output(trace)

    sync = sub.add_parser("sync", help="reconcile routes, containers and kube-proxy rules now (as the controllers would)")
    add_lab(sync)
    add_output(sync)


def _read_manifests(paths: list[str]):
    from podnet.workloads.manifests import parse_text, read_file

    objects = []
    for path in paths:
        if path == "-":
            objects += parse_text(sys.stdin.read(), "stdin")
        else:
            objects += read_file(path)
    if not objects:
        raise InputError("filename", ", ".join(paths), "holds no objects")
    return objects


def _open(name: str) -> controller.Lab:
    from podnet.cli import _require_root

    _require_root()
    return controller.Lab.open(name)


def _print_result(result, output: str, lab) -> None:
    if output == "json":
        print(json.dumps({"lab": lab.state.name, "results": result.lines,
                          "createdPods": {n: lab.state.pods[n].ip for n in result.created_pods if n in lab.state.pods},
                          "removedPods": {p.name: p.ip for p in result.removed_pods}}, indent=2))
        return
    for line in result.lines:
        print(line)
    for pod in result.removed_pods:
        if pod.owner and pod.owner in lab.state.deployments:
            continue
    for name in result.created_pods:
        pod = lab.state.pods.get(name)
        if pod is not None and pod.owner and pod.phase == RUNNING:
            print(f"  pod/{name} on {pod.node} has IP {pod.ip}")
        elif pod is not None and pod.phase != RUNNING:
            print(f"  pod/{name} is {pod.phase}: {pod.message or 'see podnet describe pod ' + name}")


def cmd_apply(args, lab_name, progress) -> int:
    objects = _read_manifests(args.filename)
    lab = _open(lab_name(args.name))
    try:
        with state_store.LabLock(lab.paths):
            result = lab.apply(objects, progress(sys.stderr.isatty() and args.output != "json"))
    finally:
        lab.close()
    _print_result(result, args.output, lab)
    return EXIT_OK


def cmd_delete(args, lab_name, progress) -> int:
    check_dns1123_label("namespace", args.namespace)
    if args.filename:
        if args.kind or args.names:
            raise InputError("delete", args.kind, "give either -f FILE or KIND NAME..., not both")
        objects = _read_manifests(args.filename)
    elif not args.kind or not args.names:
        raise InputError("delete", args.kind or "", "give KIND NAME... (e.g. delete pod web-1) or -f FILE")
    for name in args.names:
        check_dns1123_label("name", name)
    lab = _open(lab_name(args.name))
    try:
        with state_store.LabLock(lab.paths):
            show = progress(sys.stderr.isatty() and args.output != "json")
            if args.filename:
                result = lab.delete_listed(objects, show)
            else:
                result = lab.delete(args.kind, args.names, args.namespace, show)
    finally:
        lab.close()
    _print_result(result, args.output, lab)
    return EXIT_OK


def cmd_logs(args, lab_name, progress) -> int:
    from podnet.workloads.containers import log_path

    state = state_store.load(lab_name(args.name))
    if args.pod not in state.pods:
        raise InputError("pod", args.pod, "not a Pod of lab " + state.name)
    tail = parse_int("tail", args.tail, -1, 100000)
    path = log_path(state_store.LabPaths(state.name).root, args.pod)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        print(f"(pod {args.pod} has no container output: it runs no server, or has not started)")
        return EXIT_OK
    for line in lines if tail < 0 else lines[-tail:] if tail else []:
        print(line)
    return EXIT_OK


def _source(lab, source: str) -> tuple[str, str | None]:
    """(netns, Kubernetes namespace for DNS search or None) of a source name."""
    from podnet.addressbook import AddressBook

    ns = AddressBook(lab.state).netns_of(source)
    if ns is None:
        raise InputError("source", source, "must be a Running Pod, a node, external or internet of lab " + lab.state.name)
    pod = lab.state.pods.get(source)
    return ns, (pod.namespace if pod else None)


def cmd_connect(args, lab_name, progress) -> int:
    from podnet.workloads.client import Client, check_target

    port = parse_int("port", args.port, 1, 65535) if args.port is not None else None
    host, port = check_target(args.target, port)
    if args.protocol not in ("tcp", "udp"):
        raise InputError("protocol", args.protocol, "use tcp or udp")
    count = parse_int("count", args.count, 1, 1000)
    size = parse_int("size", args.size, 2, 60000)
    timeout = parse_seconds("timeout", args.timeout, 30)
    lab = _open(lab_name(args.name))
    try:
        ns, namespace = _source(lab, args.source)
        exchange = Client(lab).exchange(args.source, ns, namespace, host, port, args.protocol, count, size, timeout)
    finally:
        lab.close()
    data = exchange.to_json()
    if args.output == "json":
        print(json.dumps(data, indent=2))
    else:
        look = exchange.lookup
        if look.how == "dns":
            where = f"{look.address} (via the cluster DNS {look.server}: {look.tried[-1] if look.tried else host})" \
                if look.address else f"not resolved: {look.error}"
        else:
            where = f"{look.address} ({look.how} {host})" if look.how in ("pod", "node") else str(look.address)
        print(f"{args.source} -> {host}:{port}/{args.protocol}: {where}")
        if exchange.answers:
            from podnet.views import table

            rows = [[a.seq, a.status, a.pod or "-", a.pod_ip or "-", a.node or "-", a.client or "-",
                     a.received if a.received is not None else "-", a.ms if a.ms is not None else "-",
                     a.detail or "-"] for a in exchange.answers]
            print(table(["#", "RESULT", "ANSWERED BY", "POD IP", "NODE", "CLIENT SEEN AS", "BYTES", "MS", "DETAIL"], rows))
            backends = data["backends"]
            if backends:
                print(f"{len(backends)} backend(s) answered: {', '.join(backends)}")
    return EXIT_OK if data["ok"] else EXIT_FAILED


def cmd_trace(args, lab_name, progress) -> int:
    from podnet import trace as trace_mod
    from podnet.views import table

    protocol = args.protocol
    if protocol is not None and protocol not in ("tcp", "udp", "icmp"):
        raise InputError("protocol", protocol, "use tcp, udp or icmp")
    timeout = parse_seconds("timeout", args.timeout)
    lab = _open(lab_name(args.name))
    try:
        result = trace_mod.run(lab, args.source, args.destination, protocol, timeout)
    finally:
        lab.close()
    if args.output == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(f"{result.kind}: {result.explanation}")
        print()
        rows = [[h.index, h.where, h.iface, h.direction, h.src, h.dst, "; ".join(h.rewrite) or "-"] for h in result.hops]
        if rows:
            print(table(["#", "WHERE", "IFACE", "DIR", "SOURCE", "DESTINATION", "REWRITE (what changed here, and who)"], rows))
            print()
        print(result.summary)
    return EXIT_OK if result.status == "reached" else EXIT_FAILED


def cmd_sync(args, lab_name, progress) -> int:
    lab = _open(lab_name(args.name))
    try:
        with state_store.LabLock(lab.paths):
            diffs, problems = lab.sync_routes(strict=False)
            started = lab.start_containers()
            results = lab.sync_services()
            lab.save()
    finally:
        lab.close()
    routes = {n: {"added": len(d.add), "removed": len(d.delete)} for n, d in diffs.items()}
    if args.output == "json":
        print(json.dumps({"lab": lab.state.name, "routes": routes, "problems": problems, "containersStarted": started,
                          "kubeProxy": [vars(r) for r in results]}, indent=2))
    else:
        added = sum(r["added"] for r in routes.values())
        removed = sum(r["removed"] for r in routes.values())
        print(f"routes: {added} added, {removed} removed" + (f"; problems: {'; '.join(problems)}" if problems else ""))
        print(f"containers started: {', '.join(started) or 'none needed'}")
        for r in results:
            print(f"kube-proxy on {r.node}: {r.chains} chains, {r.rules} rules written"
                  + (f", {r.jumps_added} missing jumps restored" if r.jumps_added else "")
                  + (f", {r.stale_deleted} stale chains deleted" if r.stale_deleted else ""))
    return EXIT_FAILED if problems else EXIT_OK


HANDLERS = {"apply": cmd_apply, "delete": cmd_delete, "logs": cmd_logs, "connect": cmd_connect,
            "trace": cmd_trace, "sync": cmd_sync}
