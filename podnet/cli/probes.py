"""``podnet probe|capture|compare``: real packets that prove what the model promises.

Mirrors what an engineer does to check a cluster's network: one probe seen at every hop
(``probe SRC DST``), Kubernetes' e2e "Granular Checks" and "NoSNAT" as a matrix
(``probe --all``), ``tcpdump`` inside a Pod or node (``capture``), and the same machines
with a Docker bridge, measured side by side (``compare``). Exit codes: 0 all reached, 1 a
probe or pair failed (or could not run), 2 bad input.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from podnet.cli.common import PROG, add_lab, add_output, lab_name, open_lab, require_root, stderr_progress
from podnet.lab import activity
from podnet.core.addressbook import AddressBook
from podnet.core.addressing import parse_int, parse_seconds
from podnet.core.errors import EXIT_FAILED, EXIT_OK, InputError, LabConflict
from podnet.core.naming import check_lab_name
from podnet.k8s.routing import neighbours
from podnet.kernel import state_file
from podnet.probes import capture, compare, matrix
from podnet.probes.matrix_plan import SEED_MAX, Sample, choose_seed
from podnet.probes.runner import ProbeSession
from podnet.probes.verdict import REACHED, summary
from podnet.views import matrix_grid
from podnet.core.tables import table


def add_parsers(sub) -> None:
    probe = sub.add_parser("probe", help="send a probe and show where it arrived and how (or --all: the matrix)")
    add_lab(probe)
    probe.add_argument("source", nargs="?", help="node or Pod to send from")
    probe.add_argument("destination", nargs="?", help="address, node or Pod")
    probe.add_argument("-p", "--protocol", default="icmp", help="icmp, udp or tcp (default icmp)")
    probe.add_argument("--port", help="destination port (udp and tcp)")
    probe.add_argument("--timeout", default="1", help="seconds to wait (default 1)")
    probe.add_argument("--all", action="store_true", help="every Pod and node to every Pod, UDP and TCP")
    probe.add_argument("--protocols", default="udp,tcp", help="with --all: udp, tcp or udp,tcp")
    probe.add_argument("--no-nodes", action="store_true", help="with --all: Pods only, no node-to-Pod pairs")
    probe.add_argument("--sample", metavar="N",
                       help="with --all: a random but reproducible sample of N ordered (source, target) pairs, "
                            "each over every protocol (more than there are: every pair)")
    probe.add_argument("--seed", metavar="S",
                       help="with --sample: the sample's seed (default: chosen and printed, to repeat it)")
    add_output(probe)

    capture_p = sub.add_parser("capture", help="capture packets in a node's or Pod's namespace (pcap + named summary)")
    add_lab(capture_p)
    capture_p.add_argument("target", help="node or Pod to capture in")
    capture_p.add_argument("-i", "--interface", help="interface (default: eth0 in a Pod, any in a node)")
    capture_p.add_argument("-f", "--filter", default="", help="BPF filter, e.g. 'icmp or udp port 8081'")
    capture_p.add_argument("-c", "--count", default="10", help="stop after this many packets (default 10)")
    capture_p.add_argument("--duration", default="10", help="stop after this many seconds (default 10)")
    capture_p.add_argument("-w", "--write", help="save the pcap here (a new file, mode 0600)")
    add_output(capture_p)

    compare_p = sub.add_parser("compare", help="measure Kubernetes' flat network against a Docker bridge, side by side")
    compare_p.add_argument("--name", default="compare", help="prefix of the two labs (default compare)")
    compare_p.add_argument("--nodes", default="3", help="machines in each lab (default 3, at least 2)")
    compare_p.add_argument("--pods-per-node", default="2", help="workloads per machine (default 2)")
    compare_p.add_argument("--keep", action="store_true", help="leave both labs running afterwards")
    add_output(compare_p)


def _matrix_protocols(args) -> tuple[str, ...]:
    if args.source or args.destination:
        raise InputError("probe", args.source, "--all takes no source or destination")
    protocols = tuple(p for p in args.protocols.split(",") if p)
    if not protocols or any(p not in ("udp", "tcp") for p in protocols):
        raise InputError("protocols", args.protocols, "use udp, tcp or udp,tcp")
    return protocols


SAMPLE_MAX = 10**9
SAMPLE_LISTED = 40  # a sample this small is listed pair by pair
SAMPLE_CELLS = 250_000  # a bigger sample's grid is not recorded for the live page (its pairs are)


def _matrix_sample(args) -> Sample | None:
    """``--sample N [--seed S]``, checked before anything runs: N at least 1 (more than the
    lab has is allowed: every pair runs, and the output says so)."""
    if args.sample is None:
        if args.seed is not None:
            raise InputError("seed", args.seed, "goes with --sample N")
        return None
    if not args.all:
        raise InputError("sample", args.sample, "goes with --all (the matrix)")
    if args.sample.strip().lstrip("+").isdigit() and int(args.sample) == 0:
        raise InputError("sample", args.sample, "must be at least 1 pair (leave --sample out for every pair)")
    asked = parse_int("sample", args.sample, 1, SAMPLE_MAX)
    seed = parse_int("seed", args.seed, 0, SEED_MAX) if args.seed is not None else choose_seed()
    return Sample(asked, seed)


def _single_port(args) -> int | None:
    if not args.source or not args.destination:
        raise InputError("probe", " ".join(filter(None, [args.source, args.destination])) or "",
                         "give SOURCE and DESTINATION, or --all")
    port = parse_int("port", args.port, 1, 65535) if args.port is not None else None
    if args.protocol not in ("icmp", "udp", "tcp"):
        raise InputError("protocol", args.protocol, "use icmp, udp or tcp")
    if args.protocol != "icmp" and port is None:
        raise InputError("port", "", f"a {args.protocol} probe needs --port")
    return port


def cmd_probe(args) -> int:
    name = lab_name(args.name)
    timeout = parse_seconds("timeout", args.timeout)
    protocols = _matrix_protocols(args) if args.all else ()
    sample = _matrix_sample(args)
    port = None if args.all else _single_port(args)
    lab = open_lab(name)
    try:
        if args.all:
            return _matrix(lab, args, protocols, timeout, sample)
        return _one_probe(lab, args, port, timeout)
    finally:
        lab.close()


def _matrix(lab, args, protocols: tuple[str, ...], timeout: float, sample: Sample | None) -> int:
    static_arp = lab.state.static_arp
    result = matrix.run(lab, protocols, include_nodes=not args.no_nodes, timeout=max(timeout, 2.0),
                        progress=stderr_progress(args.output), sample=sample)
    if lab.state.static_arp != static_arp:  # the lab switched to permanent entries: it keeps them
        with lab.lock():
            lab.save()
    if result.prefilled_neighbours:
        sys.stderr.write(f"{PROG}: wrote {result.prefilled_neighbours} permanent neighbour (ARP) entries first: "
                         "a full mesh of this lab would overflow the kernel's shared ARP table "
                         f"(gc_thresh3 {neighbours.read_gc_thresh3()}); the lab keeps them\n")
    activity.record(lab.state.name, "matrix", _grid_record(result))
    if args.output == "json":
        print(json.dumps(dict(result.to_json(), **_sample_note(result)), indent=2))
    else:
        node_of = {p.name: p.node for p in lab.state.pods.values()}
        if result.sample is not None:
            print(_sample_line(result))
        print(matrix_grid.grid(result, node_of) if result.sample is None else _sample_grid(result, node_of))
        print(matrix_grid.legend(result))
        print(matrix_grid.summary_line(result))
        for line in matrix_grid.failure_lines(result):
            print(line)
        if result.sample is not None:
            print(_sample_line(result, again=True))
    return EXIT_OK if result.ok else EXIT_FAILED


def _sample_note(result) -> dict:
    sample = result.sample
    if sample is None or not sample.everything:
        return {}
    return {"sample_note": f"asked for {sample.asked:,} pairs, the lab has {sample.total:,}: every pair ran"}


def _sample_line(result, again: bool = False) -> str:
    """The header (and footer) of a sampled matrix: what was drawn, and how to draw it again."""
    sample = result.sample
    if sample.everything:
        text = (f"sample: {sample.asked:,} pairs asked, the lab has only {sample.total:,} ordered pairs: "
                f"every pair ran (seed {sample.seed})")
    else:
        text = (f"sample: {sample.drawn:,} of {sample.total:,} ordered pairs (source -> target, each over "
                f"{'+'.join(result.protocols)}), seed {sample.seed}")
    if again:
        text += f"; the same pairs again: --sample {sample.asked} --seed {sample.seed}"
    return text


def _sample_grid(result, node_of: dict[str, str]) -> str:
    """A sample's pairs: each one (a few), or how many passed between two nodes (many).
    Pairs outside the sample are never shown as passed."""
    pairs = sorted({(p.source, p.target) for p in result.pairs.values()})
    if len(pairs) <= SAMPLE_LISTED:
        return table(["SOURCE", "TARGET", "RESULT"],
                     [(src, dst, matrix_grid.cell(result, src, dst)) for src, dst in pairs])
    counts: dict[tuple[str, str], list[int]] = {}
    for pair in result.pairs.values():
        total = counts.setdefault((node_of.get(pair.source, pair.source), node_of[pair.target]), [0, 0])
        total[0] += pair.ok
        total[1] += 1
    return "(sampled pairs that passed, by the source's and the target's node)\n" + table(
        ["FROM", "TO", "PASSED"], [(a, b, f"{ok}/{n}") for (a, b), (ok, n) in
                                   sorted(counts.items(), key=lambda i: (len(i[0][0]), i[0][0], len(i[0][1]), i[0][1]))])


def _grid_record(result) -> dict:
    """What the live page draws. A sample's cells are only its own pairs ("" elsewhere):
    a pair that did not run is never drawn as passed."""
    if result.sample is None:
        return matrix_grid.grid_json(result)
    record = matrix_grid.grid_json(dataclasses.replace(result, sources=[], targets=[]))
    drawn = {(p.source, p.target) for p in result.pairs.values()}
    record.update(sources=result.sources, targets=result.targets, summary=matrix_grid.summary_line(result),
                  cells=[[matrix_grid.cell(result, src, dst) if (src, dst) in drawn else "" for dst in result.targets]
                         for src in result.sources] if len(result.sources) * len(result.targets) <= SAMPLE_CELLS else [],
                  sample=result.sample.to_json())
    return record


def _one_probe(lab, args, port: int | None, timeout: float) -> int:
    session = ProbeSession(lab)
    try:
        verdict = session.probe(args.source, args.destination, args.protocol, port, timeout)
    finally:
        session.close()
    activity.record(lab.state.name, "probe", {"source": args.source, "destination": args.destination,
                                              "protocol": args.protocol, "port": port, **verdict.to_json()})
    if args.output == "json":
        print(json.dumps(verdict.to_json(), indent=2))
    else:
        print(summary(verdict, session.describer(args.source)))
        for seen in verdict.path:
            print(f"  seen in {seen.name:<12} {seen.iface:<14} {seen.direction:<3} "
                  f"{seen.src}{':' + str(seen.sport) if seen.sport else ''} -> "
                  f"{seen.dst}{':' + str(seen.dport) if seen.dport else ''}  ttl {seen.ttl}")
    return EXIT_OK if verdict.status == REACHED else EXIT_FAILED


def cmd_compare(args) -> int:
    prefix = check_lab_name(args.name)
    nodes = parse_int("nodes", args.nodes, 2, 20)
    per_node = parse_int("pods-per-node", args.pods_per_node, 1, 20)
    for suffix in ("k8s", "docker"):
        check_lab_name(f"{prefix}-{suffix}")
        if state_file.exists(f"{prefix}-{suffix}"):
            raise LabConflict(f"lab {prefix}-{suffix} already exists: 'podnet down --name {prefix}-{suffix}' first")
    require_root()
    k8s, docker = compare.run(prefix, nodes, per_node, keep=args.keep, progress=stderr_progress(args.output))
    rows = compare.rows(k8s, docker)
    if args.output == "json":
        print(json.dumps({"kubernetes": k8s.to_json(), "docker": docker.to_json(),
                          "rows": [dict(zip(("aspect", "kubernetes", "docker"), r)) for r in rows]}, indent=2))
    else:
        print(f"Kubernetes flat network vs Docker bridge: {nodes} machines, {per_node} workloads on each, measured")
        print()
        print(table(["", "KUBERNETES (podnet, bridge CNI)", "DOCKER (docker0 on each host)"], rows))
        print()
        print("Evidence (real probes):")
        for side in (k8s, docker):
            for line in side.evidence:
                print(f"  [{side.model}] {line}")
        if args.keep:
            print(f"\nBoth labs are still up: --name {prefix}-k8s and --name {prefix}-docker")
    broken = [v for side in (k8s, docker) for v in (side.cross_host, side.to_workload) if v is None or v.status == "error"]
    return EXIT_FAILED if broken else EXIT_OK


def _capture_request(args, state) -> tuple[str, list[str], int, float]:
    """(netns, BPF words, count, duration) of a capture, all checked before anything runs."""
    count = capture.check_count(args.count)
    duration = parse_seconds("duration", args.duration, 3600)
    netns = AddressBook(state).netns_of(args.target)
    if netns is None:
        raise InputError("target", args.target, "must be a node, a Running Pod or (routed underlay) router of lab " + state.name)
    if args.interface is None:
        args.interface = "eth0" if args.target in state.pods else "any"
    if args.interface != "any" and not capture.is_interface_name(args.interface):
        raise InputError("interface", args.interface, "must be an interface name (at most 15 characters) or any")
    bpf = args.filter.split() if args.filter else []
    if any(word.startswith("-") for word in bpf[:1]):
        raise InputError("filter", args.filter, "must be a BPF expression, not an option")
    return netns, bpf, count, duration


def cmd_capture(args) -> int:
    state = state_file.load(lab_name(args.name))
    netns, bpf, count, duration = _capture_request(args, state)
    output = capture.open_output(args.write) if args.write else None
    require_root()
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
    lines = capture.describe(pcap, AddressBook(state), near)
    activity.record(state.name, "capture", {"target": args.target, "interface": args.interface,
                                            "filter": args.filter or "", "pcap": args.write,
                                            "packets": capture.to_json(lines)})
    if args.output == "json":
        print(json.dumps({"target": args.target, "netns": netns, "pcap": args.write,
                          "packets": capture.to_json(lines)}, indent=2))
    else:
        for line in lines:
            print(line.text())
        print(f"{len(lines)} IPv4 packet(s) captured in {args.target}" + (f"; pcap saved to {args.write}" if args.write else ""))
    return EXIT_OK


HANDLERS = {"probe": cmd_probe, "capture": cmd_capture, "compare": cmd_compare}
