"""The reachability matrix as people read it (podnet.views.matrix_grid): each cell's word,
the grid's layouts, the legend, the summary line and the named failures, with and without
NetworkPolicies; and the matrix's choice of endpoint ports (podnet.probes.matrix_endpoints).
Pure: results are built by hand."""

from __future__ import annotations

import pytest

from podnet.probes.matrix import MatrixResult, PairResult
from podnet.probes.matrix_endpoints import PORT_PAIRS, free_ports
from podnet.views import matrix_grid as view


def result(names, protocols=("udp", "tcp"), sources=None, policies=()):
    res = MatrixResult(list(sources or names), list(names), tuple(protocols), policies=list(policies))
    for src in res.sources:
        for dst in names:
            if src != dst:
                for proto in protocols:
                    res.pairs[(src, dst, proto)] = PairResult(src, dst, proto, answered=True, answer=dst, name_ok=True,
                                                              seen_source="x", source_ok=True)
    return res


def set_pair(res, src, dst, proto, **fields):
    for key, value in fields.items():
        setattr(res.pairs[(src, dst, proto)], key, value)


@pytest.mark.parametrize("udp, tcp, word", [
    ({}, {}, "ok"),
    ({"source_ok": False}, {}, "NAT"),
    ({"answered": False, "error": "no answer within 3s"}, {}, "--"),
    ({"answered": False, "error": "endpoint could not listen"}, {}, "ERR"),
    ({"answer": "b", "name_ok": False}, {}, "other"),
    ({"expected": False, "answered": False, "error": "no answer (a NetworkPolicy drops it: ...)"},
     {"expected": False, "answered": False, "error": "no answer (a NetworkPolicy drops it: ...)"}, "x"),
    ({"expected": False, "answered": False, "error": "no answer (a NetworkPolicy drops it: ...)"}, {}, "ok/x"),
    ({"expected": False}, {}, "LEAK"),
    ({"answered": False, "error": "no answer within 3s, but"}, {"expected": False}, "LEAK"),
])
def test_cell_words(udp, tcp, word):
    res = result(["a", "b"], policies=["p"] if any("expected" in d for d in (udp, tcp)) else ())
    set_pair(res, "a", "b", "udp", **udp)
    set_pair(res, "a", "b", "tcp", **tcp)
    assert view.cell(res, "a", "b") == word
    assert view.cell(res, "a", "a") == "."


def test_short_names_head_their_columns():
    lines = view.grid(result(["pod-1-1", "pod-2-1"]), {}).splitlines()
    assert lines[0].split() == ["pod-1-1", "pod-2-1"]
    assert lines[1].split() == ["pod-1-1", ".", "ok"] and lines[2].split() == ["pod-2-1", "ok", "."]


def test_long_names_get_numbered_columns_and_nodes_no_number():
    names = ["web-74rc2lx4xn-mcrz8", "client", "web-74rc2lx4xn-22gnr"]
    res = result(names, sources=names + ["node-1"])
    lines = view.grid(res, {}).splitlines()
    assert lines[0].split() == ["1", "2", "3"]
    assert lines[1].split() == ["1", "web-74rc2lx4xn-mcrz8", ".", "ok", "ok"]
    assert lines[2].split() == ["2", "client", "ok", ".", "ok"]
    assert lines[4].split() == ["node-1", "ok", "ok", "ok"]
    assert len({len(line) for line in lines}) == 1  # aligned


def test_big_labs_get_a_node_by_node_grid():
    names = [f"pod-{n}-{i}" for n in (1, 2) for i in range(1, 10)]
    res = result(names)
    set_pair(res, "pod-1-1", "pod-2-1", "tcp", answered=False, error="no answer within 3s")
    lines = view.grid(res, {n: "node-" + n.split("-")[1] for n in names}).splitlines()
    assert lines[1].split() == ["from", "\\", "to", "node-1", "node-2"]
    assert lines[2].split() == ["node-1", "144/144", "161/162"]


def test_legend_names_the_ports_and_the_policy_words_only_under_policies():
    res = result(["a", "b"])
    assert "answered with its own name on UDP 8081 and TCP 8083" in view.legend(res)
    assert "LEAK" not in view.legend(res)
    res.ports = {"udp": 9081, "tcp": 9083}
    res.policies = ["shop/deny"]
    text = view.legend(res)
    assert "on UDP 9081 and TCP 9083" in text and "under NetworkPolicies (shop/deny)" in text and "LEAK" in text


def test_summary_lines():
    res = result(["a", "b"])
    res.seconds = 0.5
    assert view.summary_line(res) == "PASS: 4/4 pairs passed (2 sources x 2 Pods, udp+tcp) in 0.50s (8 pairs/s)"
    res.policies = ["p"]
    set_pair(res, "a", "b", "udp", expected=False)  # answered although denied
    set_pair(res, "a", "b", "tcp", expected=False, answered=False, error="no answer (a NetworkPolicy drops it: r)")
    assert view.summary_line(res).startswith("FAIL: 3/4 pairs behaved as the NetworkPolicies say (2 allowed, 2 denied; "
                                             "1 mismatch) ")
    assert view.summary_line(MatrixResult([], [], ("tcp",))).startswith("FAIL: no Running Pod")


def test_failure_lines_say_why():
    res = result(["a", "b", "c"], protocols=("tcp",), policies=["p"])
    set_pair(res, "a", "b", "tcp", expected=False, why="ingress of default/b: denied")
    set_pair(res, "a", "c", "tcp", answered=False, error="no answer within 3s", why="allowed by default/p")
    set_pair(res, "b", "a", "tcp", answer="c", name_ok=False)
    set_pair(res, "b", "c", "tcp", source_ok=False, seen_source="192.168.77.11")
    lines = view.failure_lines(res)
    assert lines == [
        "  TCP a -> b: answered, but the policies deny it (ingress of default/b: denied)",
        "  TCP a -> c: no answer within 3s, but the policies allow it (allowed by default/p)",
        "  TCP b -> a: answered as c: the address reached another workload",
        "  TCP b -> c: the target saw 192.168.77.11, not the client's own address",
    ]
    assert view.failure_lines(res, limit=1)[-1] == "  ... and 3 more (-o json lists them all)"


def test_json_carries_ports_and_expectations():
    res = result(["a", "b"], policies=["p"])
    set_pair(res, "a", "b", "udp", expected=False, answered=False, error="no answer (a NetworkPolicy drops it: r)")
    data = res.to_json()
    assert data["ports"] == {"udp": 8081, "tcp": 8083} and data["expectedDenied"] == 1 and data["ok"]


@pytest.mark.parametrize("declared, pair", [
    (set(), (8081, 8083)), ({8080}, (8081, 8083)), ({8081}, (9081, 9083)), ({8083, 9081}, (18081, 18083)),
    ({p for pair in PORT_PAIRS for p in pair}, PORT_PAIRS[-1]),
])
def test_matrix_ports_avoid_what_workloads_serve(declared, pair):
    assert free_ports(declared) == pair
