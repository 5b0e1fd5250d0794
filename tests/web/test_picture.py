"""The live page's figure as data (podnet.web.picture): every node, Pod, Service, policy and
outside host placed, boxes that hold what they contain and never overlap, an anchor for
every place a hop can be drawn, and the states a lab can be in (VXLAN, a routed underlay,
Pods that cannot run, Pods nobody scheduled, many Pods). Pure: states are built by hand."""

from __future__ import annotations

import itertools
import json

from podnet.core.model import RUNNING, add_event
from podnet.core.spec import build_spec
from podnet.k8s.workloads.apply import apply_objects
from podnet.k8s.workloads.manifests import parse_documents
from podnet.lab.initial import initial_state
from podnet.web.picture import MAX_PODS_DRAWN, picture
from tests.support.policy_states import counter, running


def lab(nodes=3, per_node=2, external=True, **spec):
    names = [(f"node-{i}", "control-plane" if i == 1 else "worker") for i in range(1, nodes + 1)]
    pods = [(f"pod-{n}-{k}", f"node-{n}") for n in range(1, nodes + 1) for k in range(1, per_node + 1)]
    state = initial_state(build_spec(nodes=names, pods=pods, **spec))
    state.external = external
    for node in state.nodes.values():
        node.ready = True
    return running(state)


def web(state, services=1):
    docs = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
             "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}},
                                   "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]}}}}]
    docs += [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"web-{i}"},
              "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}],
                       **({"type": "NodePort"} if i == 0 else {})}} for i in range(services)]
    state, _ = apply_objects(state, parse_documents(docs), rand=counter())
    return running(state)


def inside(inner, outer) -> bool:
    return (outer["x"] <= inner["x"] and inner["x"] + inner["w"] <= outer["x"] + outer["w"]
            and outer["y"] <= inner["y"] and inner["y"] + inner["h"] <= outer["y"] + outer["h"])


def overlap(a, b) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def boxes(p):
    return ([("node", n["name"], n["box"]) for n in p["nodes"]] + [("outside", o["name"], o["box"]) for o in p["outside"]]
            + [("service", s["key"], s["box"]) for s in p["services"]])


def test_every_node_and_pod_with_its_addresses():
    state = lab()
    p = picture(state, version=7)
    assert p["version"] == 7 and p["lab"] == "podnet"
    assert [(n["name"], n["internalIP"], n["podCIDR"]) for n in p["nodes"]] == \
        [(n.name, n.internal_ip, n.pod_cidr) for n in state.nodes.values()]
    assert {q["name"]: q["ip"] for q in p["pods"]} == {q.name: q.ip for q in state.pods.values()}
    assert all(q["status"] == RUNNING and q["reason"] == "" for q in p["pods"])
    assert json.loads(json.dumps(p)) == p  # plain JSON, nothing else


def test_pods_sit_inside_their_node_and_nothing_overlaps():
    p = picture(web(lab(nodes=4, per_node=3), services=8))
    node_box = {n["name"]: n["box"] for n in p["nodes"]}
    assert all(inside(q["box"], node_box[q["node"]]) for q in p["pods"])
    for (_, a, box_a), (_, b, box_b) in itertools.combinations(boxes(p), 2):
        assert not overlap(box_a, box_b), (a, b)
    for a, b in itertools.combinations(p["pods"], 2):
        assert not overlap(a["box"], b["box"]), (a["name"], b["name"])
    assert all(box["x"] + box["w"] <= p["size"]["width"] and box["y"] + box["h"] <= p["size"]["height"]
               for _, _, box in boxes(p))


def test_an_anchor_for_every_place_a_hop_can_be():
    p = picture(web(lab()))
    names = {q["name"] for q in p["pods"]} | {n["name"] for n in p["nodes"]} | {"internet", "external", "underlay"}
    assert names <= set(p["anchors"]), names - set(p["anchors"])
    assert "svc:default/web-0" in p["anchors"]


def test_services_name_their_endpoints_and_node_ports():
    p = picture(web(lab(), services=2))
    first = next(s for s in p["services"] if s["key"] == "default/web-0")
    assert first["type"] == "NodePort" and first["nodePorts"] and first["clusterIP"]
    assert sorted(first["endpoints"]) == sorted(q["name"] for q in p["pods"] if q["labels"].get("app") == "web")


def test_a_ten_by_ten_lab_with_a_hundred_services():
    p = picture(web(lab(nodes=10, per_node=10), services=100))
    assert len(p["pods"]) == 103 and len(p["services"]) == 100
    rows = sorted({n["box"]["y"] for n in p["nodes"]})
    assert len(rows) == 2  # five nodes a row, the underlay between the rows
    assert rows[0] < p["underlay"]["segments"][0]["y"] < rows[1]
    assert len(json.dumps(p)) < 400_000


def test_more_pods_than_a_node_box_draws_are_counted():
    p = picture(lab(nodes=1, per_node=MAX_PODS_DRAWN + 5))
    assert len(p["pods"]) == MAX_PODS_DRAWN and p["nodes"][0]["hiddenPods"] == 5


def test_pods_that_cannot_run_say_why():
    state = lab()
    stuck, waiting = state.pods["pod-1-1"], state.pods["pod-2-1"]
    stuck.phase, stuck.ip = "ContainerCreating", None
    stuck.message = "failed to allocate for range 0: no IP addresses available in range set"
    waiting.phase, waiting.ip, waiting.message = "Pending", None, ""
    add_event(waiting.events, "Warning", "NetworkNotReady", "network is not ready: cni plugin not initialized", "kubelet")
    drawn = {q["name"]: q for q in picture(state)["pods"]}
    assert drawn["pod-1-1"]["status"] == "ContainerCreating" and drawn["pod-1-1"]["ip"] is None
    assert "no IP addresses available" in drawn["pod-1-1"]["reason"]
    assert drawn["pod-2-1"]["reason"] == "NetworkNotReady: network is not ready: cni plugin not initialized"


def test_unscheduled_pods_have_a_box_of_their_own():
    state = lab()
    state.pods["pod-3-1"].node, state.pods["pod-3-1"].phase = None, "Pending"
    p = picture(state)
    assert [q["name"] for q in p["pending"]["pods"]] == ["pod-3-1"]
    assert "pod-3-1" not in {q["name"] for q in p["pods"]} and "pod-3-1" in p["anchors"]


def test_vxlan_draws_the_overlay_and_host_gw_does_not():
    assert picture(lab())["overlay"] is None
    vx = picture(lab(routing="vxlan"))
    assert vx["overlay"]["vni"] == 1 and "flannel.1" in vx["overlay"]["label"]
    assert any("VTEP" in line for line in vx["nodes"][0]["lines"])


def test_a_routed_underlay_has_segments_and_a_router():
    p = picture(lab(nodes=4, underlay="routed"))
    assert p["underlay"]["kind"] == "routed" and len(p["underlay"]["segments"]) == 2
    assert p["underlay"]["router"]["addresses"] and "router" in p["anchors"]
    assert any("no route" in r for n in p["nodes"] for r in n["routes"])  # host-gw cannot cross it


def test_without_the_outside_hosts_there_are_none_to_draw():
    p = picture(lab(external=False))
    assert p["outside"] == [] and "internet" not in p["anchors"]


def test_policies_name_the_pods_they_select():
    state = web(lab())
    doc = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny"},
           "spec": {"podSelector": {"matchLabels": {"app": "web"}}}}
    state, _ = apply_objects(state, parse_documents([doc]), rand=counter())
    [policy] = picture(state)["policies"]
    assert policy["key"] == "default/deny" and policy["types"] == ["Ingress"]
    assert sorted(policy["selects"]) == sorted(q.name for q in state.pods.values() if q.labels.get("app") == "web")


def test_names_stay_data_not_markup():
    state = lab()
    state.pods["pod-1-1"].labels = {"note": "<script>alert(1)</script>"}
    drawn = {q["name"]: q for q in picture(state)["pods"]}
    assert drawn["pod-1-1"]["labels"]["note"] == "<script>alert(1)</script>"  # the page sets it as text
