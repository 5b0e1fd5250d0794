"""``podnet get|describe|exec|logs``: reading a lab the way kubectl reads a cluster.

Mirrors ``kubectl get`` (columns, ``-o wide|json``, ``-n``/``-A``), ``kubectl describe`` (one
object, or every object of a kind when no name is given), ``kubectl exec`` (here: any node or
Running Pod, in its network namespace, with the Pod's resolv.conf) and ``kubectl logs``.
Reads need no root except ``exec``; exit codes are 0, or 2 for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys

from podnet.cli.common import add_lab, add_output, lab_name, require_root
from podnet.core.addressing import parse_int
from podnet.core.errors import EXIT_FAILED, EXIT_OK, InputError, PodnetError
from podnet.core.model import RUNNING
from podnet.core.naming import EXTERNAL_NAME, INTERNET_NAME, check_dns1123_label, netns_name
from podnet.k8s.kubelet.containers import log_path
from podnet.kernel import state_file
from podnet.kernel.netns import enter_argv
from podnet.views import kubectl


def add_parsers(sub) -> None:
    get = sub.add_parser("get", help="list nodes, Pods, Services, ... like kubectl get")
    add_lab(get)
    get.add_argument("kind", help="nodes, pods, services (svc), endpoints (ep), deployments (deploy), "
                     "networkpolicies (netpol) or namespaces (ns)")
    get.add_argument("names", nargs="*", help="only these objects")
    get.add_argument("-n", "--namespace", default="default", help="Kubernetes namespace (default: default)")
    get.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace (kube-system too)")
    get.add_argument("-o", "--output", default="table", choices=kubectl.OUTPUTS)

    describe = sub.add_parser("describe", help="show nodes, Pods, Services or Deployments with their events")
    add_lab(describe)
    describe.add_argument("kind", help="node, pod, service, deployment, networkpolicy or namespace (plural works too)")
    describe.add_argument("object", nargs="?", help="its name (default: every object of that kind)")
    describe.add_argument("-n", "--namespace", default="default", help="Kubernetes namespace (default: default)")
    add_output(describe)

    execp = sub.add_parser("exec", help="run a command in a node's or Pod's namespace")
    add_lab(execp)
    execp.add_argument("target", help="node or Pod name")
    execp.add_argument("argv", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")

    logs = sub.add_parser("logs", help="what a Pod's container printed (its echo or DNS server)")
    add_lab(logs)
    logs.add_argument("pod", help="Pod name")
    logs.add_argument("--tail", default="50", help="last N lines (default 50; -1 for all)")


def cmd_get(args) -> int:
    check_dns1123_label("namespace", args.namespace)
    state = state_file.load(lab_name(args.name))
    print(kubectl.get(state, args.kind, args.output, args.names, None if args.all_namespaces else args.namespace))
    return EXIT_OK


def cmd_describe(args) -> int:
    check_dns1123_label("namespace", args.namespace)
    state = state_file.load(lab_name(args.name))
    names = [args.object] if args.object else kubectl.names_of(state, args.kind, args.namespace)
    if args.output == "json":
        print(kubectl.describe_json_many(state, args.kind, names, args.namespace, single=bool(args.object)))
    elif not names:
        print(f"No resources found in {args.namespace} namespace.")
    else:
        print("\n\n".join(kubectl.describe(state, args.kind, name, args.namespace) for name in names))
    return EXIT_OK


def cmd_exec(args) -> int:
    argv = list(args.argv)
    if argv[:1] == ["--name"] and len(argv) > 1 and args.name is None:
        args.name = argv[1]  # "podnet exec POD --name LAB -- CMD" reads naturally too
        argv = argv[2:]
    state = state_file.load(lab_name(args.name))
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
    require_root()
    sys.stdout.flush()
    resolv = state_file.LabPaths(state.name).resolv_conf(state.pods[target].namespace) if target in state.pods else None
    command = enter_argv(netns_name(state.name, target), argv, resolv)
    os.execvp(command[0], command)
    return EXIT_FAILED  # not reached


def cmd_logs(args) -> int:
    state = state_file.load(lab_name(args.name))
    if args.pod not in state.pods:
        raise InputError("pod", args.pod, "not a Pod of lab " + state.name)
    tail = parse_int("tail", args.tail, -1, 100000)
    path = log_path(state_file.LabPaths(state.name).root, args.pod)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        print(f"(pod {args.pod} has no container output: it runs no server, or has not started)")
        return EXIT_OK
    for line in lines if tail < 0 else lines[-tail:] if tail else []:
        print(line)
    return EXIT_OK


HANDLERS = {"get": cmd_get, "describe": cmd_describe, "exec": cmd_exec, "logs": cmd_logs}
