"""``podnet apply|delete|label|sync``: a running lab's objects, as kubectl changes them.

Mirrors ``kubectl apply -f``, ``kubectl delete KIND NAME`` / ``-f`` (a Deployment replaces a
deleted Pod under a new name and IP) and ``kubectl label`` (what the labels select, Service
endpoints and NetworkPolicies, follows at once), and adds ``sync``: every component repairs drift now
(routes, containers, kube-proxy's rules), as their controllers would on their next pass.
Exit codes: 0 done, 1 a problem during sync, 2 bad input (nothing changed).
"""

from __future__ import annotations

import json
import sys

from podnet.cli.common import add_lab, add_output, lab_name, open_lab, stderr_progress
from podnet.core.errors import EXIT_FAILED, EXIT_OK, InputError
from podnet.core.model import RUNNING
from podnet.core.naming import check_dns1123_label
from podnet.k8s.workloads import labels
from podnet.k8s.workloads.manifests import parse_text, read_file


def add_parsers(sub) -> None:
    apply = sub.add_parser("apply", help="create or update Namespaces, Pods, Deployments, Services and "
                           "NetworkPolicies from manifests")
    add_lab(apply)
    apply.add_argument("-f", "--filename", action="append", required=True, help="YAML file (repeatable; - for stdin)")
    add_output(apply)

    delete = sub.add_parser("delete", help="delete Pods, Deployments, Services, NetworkPolicies or Namespaces "
                            "(a Deployment replaces its Pods)")
    add_lab(delete)
    delete.add_argument("kind", nargs="?", help="pod, deployment, service, networkpolicy or namespace")
    delete.add_argument("names", nargs="*", help="object names")
    delete.add_argument("-f", "--filename", action="append", help="delete what this YAML file names")
    delete.add_argument("-n", "--namespace", default="default", help="Kubernetes namespace (default: default)")
    add_output(delete)

    label = sub.add_parser("label", help="set or remove labels of a Pod or a Namespace, as kubectl label does")
    add_lab(label)
    label.add_argument("kind", help="pod or namespace (po, ns)")
    label.add_argument("object", help="its name")
    label.add_argument("changes", nargs="+", help="KEY=VALUE to set, KEY- to remove")
    label.add_argument("--overwrite", action="store_true", help="allow changing a label that has a value")
    label.add_argument("-n", "--namespace", default="default", help="Kubernetes namespace of a Pod (default: default)")
    add_output(label)

    sync = sub.add_parser("sync", help="reconcile routes, containers and kube-proxy rules now (as the controllers would)")
    add_lab(sync)
    add_output(sync)


def read_manifests(paths: list[str]):
    objects = []
    for path in paths:
        objects += parse_text(sys.stdin.read(), "stdin") if path == "-" else read_file(path)
    if not objects:
        raise InputError("filename", ", ".join(paths), "holds no objects")
    return objects


def _print_result(result, output: str, lab) -> None:
    if output == "json":
        print(json.dumps({"lab": lab.state.name, "results": result.lines,
                          "createdPods": {n: lab.state.pods[n].ip for n in result.created_pods if n in lab.state.pods},
                          "removedPods": {p.name: p.ip for p in result.removed_pods}}, indent=2))
        return
    for line in result.lines:
        print(line)
    for name in result.created_pods:
        pod = lab.state.pods.get(name)
        if pod is not None and pod.owner and pod.phase == RUNNING:
            print(f"  pod/{name} on {pod.node} has IP {pod.ip}")
        elif pod is not None and pod.phase != RUNNING:
            print(f"  pod/{name} is {pod.phase}: {pod.message or 'see podnet describe pod ' + name}")


def cmd_apply(args) -> int:
    objects = read_manifests(args.filename)
    lab = open_lab(lab_name(args.name))
    try:
        with lab.lock():
            lab.refresh_if_changed()
            result = lab.apply(objects, stderr_progress(args.output))
    finally:
        lab.close()
    _print_result(result, args.output, lab)
    return EXIT_OK


def cmd_delete(args) -> int:
    check_dns1123_label("namespace", args.namespace)
    if args.filename:
        if args.kind or args.names:
            raise InputError("delete", args.kind, "give either -f FILE or KIND NAME..., not both")
        objects = read_manifests(args.filename)
    elif not args.kind or not args.names:
        raise InputError("delete", args.kind or "", "give KIND NAME... (e.g. delete pod web-1) or -f FILE")
    for name in args.names:
        check_dns1123_label("name", name)
    lab = open_lab(lab_name(args.name))
    try:
        with lab.lock():
            lab.refresh_if_changed()
            show = stderr_progress(args.output)
            result = lab.delete_listed(objects, show) if args.filename else lab.delete(args.kind, args.names, args.namespace, show)
    finally:
        lab.close()
    _print_result(result, args.output, lab)
    return EXIT_OK


def cmd_label(args) -> int:
    check_dns1123_label("namespace", args.namespace)
    sets, removes = labels.parse_changes(args.changes)
    lab = open_lab(lab_name(args.name))
    try:
        with lab.lock():
            lab.refresh_if_changed()
            result = lab.label(args.kind, args.object, args.namespace, sets, removes, args.overwrite,
                               stderr_progress(args.output))
    finally:
        lab.close()
    _print_result(result, args.output, lab)
    return EXIT_OK


def cmd_sync(args) -> int:
    lab = open_lab(lab_name(args.name))
    try:
        with lab.lock():
            lab.refresh_if_changed()
            reports = lab.sync()
    finally:
        lab.close()
    routes, kubelet, proxies = reports["route-controller"], reports["kubelet"], reports["kube-proxy"]
    per_node = {n: {"added": len(d.add), "removed": len(d.delete)} for n, d in routes.diffs.items()}
    if args.output == "json":
        print(json.dumps({"lab": lab.state.name, "routes": per_node, "problems": routes.problems,
                          "containersStarted": kubelet.started, "kubeProxy": [vars(r) for r in proxies]}, indent=2))
    else:
        print(f"routes: {routes.added} added, {routes.removed} removed"
              + (f"; problems: {'; '.join(routes.problems)}" if routes.problems else ""))
        print(f"containers started: {', '.join(kubelet.started) or 'none needed'}")
        for r in proxies:
            print(f"kube-proxy on {r.node}: {r.chains} chains, {r.rules} rules written"
                  + (f", {r.jumps_added} missing jumps restored" if r.jumps_added else "")
                  + (f", {r.stale_deleted} stale chains deleted" if r.stale_deleted else ""))
    return EXIT_FAILED if routes.problems else EXIT_OK


HANDLERS = {"apply": cmd_apply, "delete": cmd_delete, "label": cmd_label, "sync": cmd_sync}
