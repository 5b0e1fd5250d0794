"""``podnet cni install|routing|plan``: who implements the model, how nodes route, what fits.

Mirrors installing a CNI plugin on a fresh cluster (``kubectl apply -f flannel.yml``: every
node gets its conflist and the kubelets retry their Pods), switching flannel's backend
between host-gw and vxlan, and sizing a cluster's ranges before building it (``plan``,
which needs no root). Exit codes: 0 done, 1 not every Pod runs / the growth does not fit,
2 bad input.
"""

from __future__ import annotations

import json
import time

from podnet.cli.common import add_lab, add_output, lab_name, open_lab, stderr_progress
from podnet.core import sizing
from podnet.core import spec as spec_defaults
from podnet.core.errors import EXIT_FAILED, EXIT_OK, InputError
from podnet.core.model import RUNNING
from podnet.core.netobjects import pod_mtu
from podnet.k8s.cni.config import INSTALL_CHOICES
from podnet.views import kubectl
from podnet.views.plan import render as render_plan


def add_parsers(sub) -> None:
    cni = sub.add_parser("cni", help="install a CNI plugin on a running lab")
    add_lab(cni)
    cni.add_argument("action", choices=("install",))
    cni.add_argument("plugin", help="bridge, ptp or builtin")
    add_output(cni)

    routing = sub.add_parser("routing", help="switch a running lab between host-gw and vxlan")
    add_lab(routing)
    routing.add_argument("mode", help="host-gw or vxlan")
    add_output(routing)

    plan = sub.add_parser("plan", help="size a cluster: nodes, Pods, Services, kubeadm's rules, what breaks first")
    plan.add_argument("--cluster-cidr", default=spec_defaults.DEFAULT_CLUSTER_CIDR, help="Pod CIDR (default 10.244.0.0/16)")
    plan.add_argument("--node-cidr-mask-size", default=str(spec_defaults.DEFAULT_NODE_MASK), help="node slice (default 24)")
    plan.add_argument("--service-cluster-ip-range", default=spec_defaults.DEFAULT_SERVICE_CIDR, help="default 10.96.0.0/12")
    plan.add_argument("--max-pods", default=str(spec_defaults.DEFAULT_MAX_PODS), help="kubelet maxPods (default 110)")
    plan.add_argument("--nodes", help="grow to this many nodes")
    plan.add_argument("--pods", help="grow to this many Pods")
    plan.add_argument("--services", help="grow to this many Services")
    plan.add_argument("--vpc-subnet", help="VPC-native: the node subnet Pods draw addresses from")
    add_output(plan)


def cmd_cni(args) -> int:
    name = lab_name(args.name)
    if args.plugin not in INSTALL_CHOICES:
        raise InputError("cni plugin", args.plugin, "can install " + ", ".join(INSTALL_CHOICES))
    lab = open_lab(name)
    try:
        with lab.lock():
            lab.refresh_if_changed()
            lab.install_cni(args.plugin, stderr_progress(args.output))
    finally:
        lab.close()
    print(kubectl.get(lab.state, "pods", "json" if args.output == "json" else "wide"))
    running = sum(1 for p in lab.state.pods.values() if p.phase == RUNNING)
    return EXIT_OK if running == len(lab.state.pods) else EXIT_FAILED


def cmd_routing(args) -> int:
    name = lab_name(args.name)
    if args.mode not in spec_defaults.ROUTING_CHOICES:
        raise InputError("routing", args.mode, "must be one of " + ", ".join(spec_defaults.ROUTING_CHOICES))
    lab = open_lab(name)
    try:
        before = lab.state.spec.routing
        started = time.perf_counter()
        with lab.lock():
            lab.refresh_if_changed()
            counts = lab.switch_routing(args.mode)
        elapsed = time.perf_counter() - started
    finally:
        lab.close()
    if args.output == "json":
        print(json.dumps(dict(counts, lab=name, before=before, after=args.mode, seconds=round(elapsed, 4)), indent=2))
    else:
        print(f"lab {name}: routing {before} -> {args.mode} in {elapsed:.2f}s "
              f"({counts['routesRemoved']} routes removed, {counts['routesAdded']} added, "
              f"{counts['interfaces']} interfaces set to MTU {pod_mtu(args.mode)})")
    return EXIT_OK


def cmd_plan(args) -> int:
    result = sizing.plan(args.cluster_cidr, args.node_cidr_mask_size, args.service_cluster_ip_range,
                         args.max_pods, args.nodes, args.pods, args.services, args.vpc_subnet)
    if args.output == "json":
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(render_plan(result))
    return EXIT_OK if result.valid and not result.limits else EXIT_FAILED  # 1: invalid, or the growth does not fit


HANDLERS = {"cni": cmd_cni, "routing": cmd_routing, "plan": cmd_plan}
