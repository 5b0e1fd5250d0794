"""``podnet connect|trace``: the four kinds of traffic, from inside a Pod, node or outside.

Mirrors what a student does inside a Pod to see Services work (``curl web``, ``nc -u``):
``connect`` resolves the name with the cluster DNS and the Pod's search path, sends real TCP
or UDP requests and shows which Pod answered and the client address it saw; ``trace`` names
which of the four kinds a flow is and shows, hop by hop, every address rewrite and who made
it (kube-proxy's DNAT, ip-masq-agent's or kube-proxy's SNAT). Exit codes: 0 answered or
reached, 1 not, 2 bad input.
"""

from __future__ import annotations

import json

from podnet.cli.common import add_lab, add_output, lab_name, open_lab
from podnet.lab import activity
from podnet.core.addressbook import AddressBook
from podnet.core.addressing import parse_int, parse_seconds
from podnet.core.errors import EXIT_FAILED, EXIT_OK, InputError
from podnet.probes import trace as tracing
from podnet.probes.client import Client, check_target
from podnet.core.tables import table


def add_parsers(sub) -> None:
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


def _source(lab, source: str) -> tuple[str, str | None]:
    """(netns, Kubernetes namespace for DNS search or None) of a source name."""
    ns = AddressBook(lab.state).netns_of(source)
    if ns is None:
        raise InputError("source", source, "must be a Running Pod, a node, external or internet of lab " + lab.state.name)
    pod = lab.state.pods.get(source)
    return ns, (pod.namespace if pod else None)


def cmd_connect(args) -> int:
    port = parse_int("port", args.port, 1, 65535) if args.port is not None else None
    host, port = check_target(args.target, port)
    if args.protocol not in ("tcp", "udp"):
        raise InputError("protocol", args.protocol, "use tcp or udp")
    count = parse_int("count", args.count, 1, 1000)
    size = parse_int("size", args.size, 2, 60000)
    timeout = parse_seconds("timeout", args.timeout, 30)
    lab = open_lab(lab_name(args.name))
    try:
        ns, namespace = _source(lab, args.source)
        exchange = Client(lab).exchange(args.source, ns, namespace, host, port, args.protocol, count, size, timeout)
    finally:
        lab.close()
    data = exchange.to_json()
    activity.record(lab.state.name, "connect", {"source": args.source, "target": f"{host}:{port}",
                                                "protocol": args.protocol, **data})
    if args.output == "json":
        print(json.dumps(data, indent=2))
    else:
        _print_exchange(args, host, port, exchange, data)
    return EXIT_OK if data["ok"] else EXIT_FAILED


def _print_exchange(args, host: str, port: int, exchange, data: dict) -> None:
    look = exchange.lookup
    if look.how == "dns":
        where = f"{look.address} (via the cluster DNS {look.server}: {look.tried[-1] if look.tried else host})" \
            if look.address else f"not resolved: {look.error}"
    else:
        where = f"{look.address} ({look.how} {host})" if look.how in ("pod", "node") else str(look.address)
    print(f"{args.source} -> {host}:{port}/{args.protocol}: {where}")
    if exchange.answers:
        rows = [[a.seq, a.status, a.pod or "-", a.pod_ip or "-", a.node or "-", a.client or "-",
                 a.received if a.received is not None else "-", a.ms if a.ms is not None else "-",
                 a.detail or "-"] for a in exchange.answers]
        print(table(["#", "RESULT", "ANSWERED BY", "POD IP", "NODE", "CLIENT SEEN AS", "BYTES", "MS", "DETAIL"], rows))
        if data["backends"]:
            print(f"{len(data['backends'])} backend(s) answered: {', '.join(data['backends'])}")


def cmd_trace(args) -> int:
    protocol = args.protocol
    if protocol is not None and protocol not in ("tcp", "udp", "icmp"):
        raise InputError("protocol", protocol, "use tcp, udp or icmp")
    timeout = parse_seconds("timeout", args.timeout)
    lab = open_lab(lab_name(args.name))
    try:
        result = tracing.run(lab, args.source, args.destination, protocol, timeout)
    finally:
        lab.close()
    activity.record(lab.state.name, "trace", result.to_json())
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


HANDLERS = {"connect": cmd_connect, "trace": cmd_trace}
