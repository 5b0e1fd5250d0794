"""Speed and size benchmark: how long a lab takes to come up and go down, and what it costs.

Mirrors nothing in Kubernetes. It measures podnet's own bring-up and teardown the way one
would time a cluster's "time to all Pods Running": for each size (NODES x PODS_PER_NODE) a
lab named ``bench`` is brought up with :func:`podnet.lab.bringup.up` (which returns once
every Pod has been synced; the benchmark then checks that every Pod is Running and counts
them), torn down with :func:`podnet.lab.teardown.teardown`, and ``/run/netns`` is checked for
namespaces the lab left behind (an observation only: the benchmark never deletes what it
finds by name).

Memory: ``mem MB`` is the drop of ``MemAvailable`` (``/proc/meminfo``) from just before
``up`` to just after it, i.e. what the running lab costs the machine (kernel namespaces,
interfaces, routes, sockets, the lab's files in tmpfs, plus this process's growth). It is
system-wide, so other activity on the machine shows up in it too. ``rss MB`` is this
process's peak resident set (``ru_maxrss``), a high-water mark over the whole benchmark run
so far, not per size. Seconds are the best (minimum) of ``--repeat`` runs; memory is the
worst (maximum).

A size may need more than the defaults; only then does the benchmark raise kubelet's
``maxPods`` to the Pods per node and narrow ``--node-cidr-mask-size`` so a node's slice
holds them, as a cluster admin would. The default sizes use the defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys

from podnet.cli import bench_class, bench_floor, bench_policies, bench_soak
from podnet.cli.bench_measure import (
    Progress, interrupt_on_termination, leftover_namespaces, measure_once, restore_signals, teardown_quietly,
)
from podnet.cli.bench_report import format_json, format_table, summarize
from podnet.core.addressing import parse_int
from podnet.core.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, InputError, KernelError, PodnetError
from podnet.core.spec import DEFAULT_MAX_PODS, DEFAULT_NODE_MASK, MAX_NODES, MAX_PODS_TOTAL, ClusterSpec
from podnet.core.topology import spec_from_sources
from podnet.kernel import state_file

BENCH_LAB = "bench"
DEFAULT_SIZES = "3x2,10x10,10x100"
CNI_CHOICES = ("builtin", "bridge")
MAX_PODS_PER_NODE = 1000
MAX_REPEAT = 100
SIZES_HINT = "use NODESxPODS_PER_NODE like 10x100"

_SIZE = re.compile(r"^([0-9]+)[xX]([0-9]+)$")


def parse_sizes(text: object) -> list[tuple[int, int]]:
    """``"3x2,10x100"`` -> ``[(3, 2), (10, 100)]``; InputError naming the first bad item."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("sizes", text, SIZES_HINT)
    sizes = []
    for item in text.split(","):
        item = item.strip()
        match = _SIZE.match(item)
        if not match:
            raise InputError("sizes", item, SIZES_HINT)
        nodes, per_node = int(match.group(1)), int(match.group(2))
        if not (1 <= nodes <= MAX_NODES and 0 <= per_node <= MAX_PODS_PER_NODE):
            raise InputError("sizes", item, SIZES_HINT)
        if nodes * per_node > MAX_PODS_TOTAL:
            raise InputError("sizes", item, f"a lab holds at most {MAX_PODS_TOTAL} Pods ({nodes * per_node} asked)")
        sizes.append((nodes, per_node))
    return sizes


def parse_repeat(value: object) -> int:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_REPEAT:
        raise InputError("repeat", value, f"must be a whole number from 1 to {MAX_REPEAT}")
    return int(text)


def check_cni(cni: object) -> str:
    if cni not in CNI_CHOICES:
        raise InputError("cni", cni, "must be " + " or ".join(CNI_CHOICES))
    return cni  # type: ignore[return-value]


def node_mask_for(per_node: int) -> int:
    """The default node mask, or a wider slice when it cannot hold ``per_node`` Pods
    (a slice loses network, gateway and broadcast addresses)."""
    needed = 32 - math.ceil(math.log2(per_node + 3))
    return min(DEFAULT_NODE_MASK, needed)


def size_spec(nodes: int, per_node: int, cni: str = "builtin", lab: str = BENCH_LAB,
              in_namespaces: bool = False) -> ClusterSpec:
    """The validated spec of one benchmark size (pure: touches nothing). ``in_namespaces``:
    the same number of Pods, made by Deployments in the policy benchmark's namespaces."""
    return spec_from_sources(None, {
        "name": lab,
        "node_count": nodes,
        "pods_per_node": 0 if in_namespaces else per_node,
        "cni": check_cni(cni),
        "max_pods": max(DEFAULT_MAX_PODS, per_node),
        "node_cidr_mask_size": node_mask_for(per_node),
        **({"workloads": bench_policies.workloads(nodes * per_node)} if in_namespaces else {}),
    })


def run(
    sizes: list[tuple[int, int]],
    cni: str = "builtin",
    repeat: int = 1,
    progress: Progress | None = None,
    *,
    lab: str = BENCH_LAB,
    with_matrix: bool = False,
    with_switch: bool = False,
    services: int = 0,
    policies: int = 0,
    web: int = 0,
    kubectl: bool = False,
    vs_floor: bool = False,
) -> list[dict]:
    """Measure every size ``repeat`` times; one row per size (see :func:`summarize`).

    Every spec is validated before anything is created. If a run leaves anything behind,
    the benchmark stops there (the next run would be refused) and returns the rows so far.
    With ``vs_floor`` each size is also built as the raw ``ip -batch`` floor and with plain
    Mininet (:mod:`podnet.cli.bench_floor`), and the row gets podnet's ratios to both.
    """
    cni = check_cni(cni)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= MAX_REPEAT:
        raise InputError("repeat", repeat, f"must be a whole number from 1 to {MAX_REPEAT}")
    specs = [(n, m, size_spec(n, m, cni, lab, in_namespaces=policies > 0)) for n, m in sizes]
    if os.geteuid() != 0:
        raise KernelError("podnet bench needs root to create network namespaces (run it with sudo)")
    rows = []
    for nodes, per_node, spec in specs:
        samples = []
        for _ in range(repeat):
            sample = measure_once(spec, progress, with_matrix, with_switch, services, policies, web, kubectl)
            samples.append(sample)
            if sample["leftovers"] or sample["state_left"]:
                break
        row = summarize(nodes, per_node, cni, samples)
        rows.append(row)
        if row["leftovers"] or row["state_left"]:
            break
        if vs_floor:
            row.update(bench_floor.compare(row, spec, repeat, progress))
            if bench_floor.floor_left(row):
                break
    return rows


# --- command line -----------------------------------------------------------------------------


def _stderr_progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _teardown_if_ours(lab: str) -> None:
    """After an interrupt outside :func:`run`'s own handling: delete the lab only if this
    process is recorded as its owner."""
    raw = state_file.load_raw(lab)
    if raw is not None and raw.get("ownerPid") == os.getpid():
        teardown_quietly(lab, None)


def _report(rows: list[dict], output: str) -> int:
    """Print the rows; exit 1 if a run left something behind or a policy matrix disagreed."""
    print(format_table(rows) if output == "table" else format_json(rows))
    floor_left = [name for row in rows for name in bench_floor.floor_left(row)]
    if floor_left:
        print(f"podnet bench: a floor left {', '.join(floor_left)} behind; stopped there", file=sys.stderr)
        return EXIT_FAILED
    left = [row for row in rows if row.get("leftovers") or row.get("state_left")]
    if left:
        names = ", ".join(n for row in left for n in row.get("leftover_names", [])) or f"{state_file.RUN_DIR}/{BENCH_LAB}"
        print(f"podnet bench: teardown left {names} behind; stopped there", file=sys.stderr)
        return EXIT_FAILED
    wrong = [row["cluster"] for row in rows if row.get("policy_matrix_mismatch")]
    if wrong:
        print(f"podnet bench: under the policies some pairs did not behave as the policies say ({', '.join(wrong)}); "
              "see 'podnet probe --all' on such a lab", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _run_soak(args: argparse.Namespace) -> int:
    """``--soak SECONDS``: the soak benchmark alone, on the one size given (default 10x10)."""
    size = args.sizes if args.sizes != DEFAULT_SIZES else "10x10"
    return bench_soak.main(["--soak", args.soak, "--soak-services", args.soak_services, "--soak-churn-ms",
                            args.soak_churn_ms, "--size", size, "--cni", args.cni, "-o", args.output])


def _run_class(count: int, output: str) -> int:
    """``--class N``: the class benchmark alone (its labs are taken down whatever happens)."""
    if os.geteuid() != 0:
        print("podnet bench: the class benchmark needs root (run it with sudo)", file=sys.stderr)
        return EXIT_FAILED
    previous = interrupt_on_termination()
    try:
        row = bench_class.run_class(count, _stderr_progress)
    except KeyboardInterrupt:
        print("podnet bench: interrupted; the class's labs were taken down", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PodnetError as exc:
        print(f"podnet bench: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        restore_signals(previous)
    print(json.dumps(row, indent=2) if output == "json" else bench_class.format_class(row))
    return EXIT_FAILED if bench_class.class_failed(row) else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podnet bench",
        description="Time podnet's bring-up (to all Pods Running) and teardown, and the memory a lab uses.",
    )
    parser.add_argument("--sizes", default=DEFAULT_SIZES,
                        help=f"comma-separated NODESxPODS_PER_NODE (default {DEFAULT_SIZES})")
    parser.add_argument("--cni", default="builtin", help="builtin (in-process) or bridge (the reference plugin)")
    parser.add_argument("--repeat", default="1", help="runs per size; the best time is reported (default 1)")
    parser.add_argument("--matrix", action="store_true",
                        help="also time the reachability matrix (every Pod pair, UDP and TCP, sources verified)")
    parser.add_argument("--switch-routing", action="store_true",
                        help="also time switching the running lab host-gw -> vxlan -> host-gw")
    parser.add_argument("--services", default="0",
                        help="also time N ClusterIP Services through kube-proxy's rules (apply, re-sync, churn, requests)")
    parser.add_argument("--policies", default="0",
                        help="also time N NetworkPolicies over the Pods (put in 10 namespaces): apply, relabel, "
                             "churn, and the matrix before and under them")
    parser.add_argument("--web", default="0", metavar="SERVICES",
                        help="also time podnet web's page in a headless Chromium with SERVICES Services: drawn, "
                             "a change drawn, responsive while the matrix runs")
    parser.add_argument("--kubectl", action="store_true",
                        help="also time the lab's Kubernetes API server: a Pod list, kubectl get pods -A -o wide "
                             "with each kubectl found, and watch events after a change")
    parser.add_argument("--vs-floor", action="store_true",
                        help="also build each size as a plain 'ip -batch' script and with plain Mininet hosts, "
                             "in the same run, and print podnet's time and memory as ratios to both")
    parser.add_argument("--class", dest="class_labs", default="0", metavar="N",
                        help="instead of sizes: N labs of 3x2 with CoreDNS and the web Service brought up at once "
                             "(as podnet class up), every lab's matrix run while the others run, then all taken down")
    bench_soak.add_arguments(parser)
    parser.add_argument("-o", "--output", default="table", choices=("table", "json"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:
        argv = argv[1:]  # "podnet bench -- --sizes ..." hands the options on unparsed
    args = parser.parse_args(argv)
    try:
        class_labs = bench_class.check_class(args.class_labs)
        sizes = parse_sizes(args.sizes)
        cni = check_cni(args.cni)
        repeat = parse_repeat(args.repeat)
        services = parse_int("services", args.services, 0, 5000)
        policies = parse_int("policies", args.policies, 0, 2000)
        web = parse_int("web", args.web, 0, 2000)
        if web and (services or policies):
            raise InputError("web", args.web, "measure the page on its own (without --services or --policies)")
        for nodes, per_node in sizes:
            size_spec(nodes, per_node, cni, in_namespaces=policies > 0)  # every size is valid before anything is made
    except InputError as exc:
        print(f"podnet bench: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if class_labs:
        return _run_class(class_labs, args.output)
    if args.soak not in (None, "0"):
        return _run_soak(args)
    previous = interrupt_on_termination()
    try:
        rows = run(sizes, cni, repeat, progress=_stderr_progress, with_matrix=args.matrix,
                   with_switch=args.switch_routing, services=services, policies=policies, web=web,
                   kubectl=args.kubectl, vs_floor=args.vs_floor)
    except KeyboardInterrupt:
        _teardown_if_ours(BENCH_LAB)
        left = leftover_namespaces(BENCH_LAB)
        if left:
            print(f"podnet bench: interrupted; {len(left)} '{BENCH_LAB}-*' namespaces remain (see 'ip netns list')",
                  file=sys.stderr)
        else:
            print(f"podnet bench: interrupted; nothing of lab {BENCH_LAB!r} was left behind", file=sys.stderr)
        return EXIT_INTERRUPTED
    except PodnetError as exc:
        print(f"podnet bench: {exc}", file=sys.stderr)
        return exc.exit_code
    finally:
        restore_signals(previous)
    return _report(rows, args.output)


if __name__ == "__main__":
    sys.exit(main())
