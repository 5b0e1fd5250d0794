"""The benchmark's pure parts: size parsing, per-size specs, aggregation, the table, and
the command line's input errors (podnet.bench). Nothing here touches the kernel."""

import json
import re

import pytest

from podnet.cli import bench, bench_measure, bench_policies
from podnet.k8s.workloads.apply import apply_objects
from podnet.k8s.workloads.manifests import parse_documents
from podnet.lab.initial import initial_state
from podnet.kernel import state_file as state_store
from podnet.core.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, InputError
from podnet.core.spec import DEFAULT_MAX_PODS, DEFAULT_NODE_MASK


def _row(cluster="10x100", pods=1000, running=None, **over):
    row = {
        "cluster": cluster, "pods": pods, "running": pods if running is None else running,
        "cni": "builtin", "up_s": 8.2374, "pods_per_s": 121.4, "down_s": 0.0816,
        "mem_mb": 288.54, "rss_mb": 56.12, "leftovers": 0,
    }
    row.update(over)
    return row


# --- sizes ------------------------------------------------------------------------------------


def test_default_sizes_parse():
    assert bench.parse_sizes(bench.DEFAULT_SIZES) == [(3, 2), (10, 10), (10, 100)]


@pytest.mark.parametrize("text, expected", [
    ("1x0", [(1, 0)]),
    (" 3x2 , 10X10 ", [(3, 2), (10, 10)]),
    ("5x1000", [(5, 1000)]),
    ("3x2,3x2", [(3, 2), (3, 2)]),
])
def test_valid_sizes(text, expected):
    assert bench.parse_sizes(text) == expected


@pytest.mark.parametrize("text, item", [
    ("abc", "abc"), ("", ""), ("3x", "3x"), ("x2", "x2"), ("3x2,", ""), ("3x2,oops", "oops"),
    ("0x5", "0x5"), ("251x1", "251x1"), ("1x1001", "1x1001"), ("-1x2", "-1x2"),
    ("3*2", "3*2"), ("3x2x1", "3x2x1"), ("３x2", "３x2"),
])
def test_invalid_sizes_name_the_item(text, item):
    with pytest.raises(InputError) as info:
        bench.parse_sizes(text)
    assert str(info.value) == f"invalid sizes: {item!r}: use NODESxPODS_PER_NODE like 10x100"
    assert info.value.exit_code == EXIT_BAD_INPUT


def test_sizes_over_the_lab_pod_limit_are_refused():
    with pytest.raises(InputError, match="at most 20000 Pods"):
        bench.parse_sizes("30x1000")
    assert bench.parse_sizes("100x100") == [(100, 100)]  # ten thousand Pods: the big-cluster size


@pytest.mark.parametrize("value", ["0", "101", "x", "-1", "1.5", ""])
def test_invalid_repeat(value):
    with pytest.raises(InputError, match="repeat"):
        bench.parse_repeat(value)


def test_cni_choices():
    assert bench.check_cni("bridge") == "bridge"
    with pytest.raises(InputError, match="must be builtin or bridge"):
        bench.check_cni("ptp")


# --- specs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("per_node, mask", [(0, 24), (2, 24), (100, 24), (253, 24), (254, 23), (509, 23), (510, 22), (1000, 22)])
def test_node_mask_holds_the_pods(per_node, mask):
    assert bench.node_mask_for(per_node) == mask
    assert 2 ** (32 - mask) - 3 >= per_node


def test_default_sizes_use_default_spec_values():
    spec = bench.size_spec(10, 100, "builtin")
    assert spec.name == bench.BENCH_LAB
    assert len(spec.nodes) == 10 and len(spec.pods) == 1000
    assert spec.max_pods == DEFAULT_MAX_PODS
    assert spec.node_cidr_mask_size == DEFAULT_NODE_MASK
    assert spec.cni == "builtin"


def test_large_per_node_raises_max_pods_and_slice():
    spec = bench.size_spec(2, 600, "bridge")
    assert spec.max_pods == 600
    assert spec.node_cidr_mask_size == 22
    assert spec.cni == "bridge"


# --- aggregation ------------------------------------------------------------------------------


def _sample(up, down, mem, running=6, leftovers=0):
    return {"up_s": up, "down_s": down, "close_s": 0.001, "pods": 6, "running": running,
            "mem_mb": mem, "rss_mb": 30.0, "deleted": 10, "leftovers": leftovers,
            "leftover_names": [], "state_left": False}


def test_summarize_takes_best_seconds_and_worst_memory():
    row = bench.summarize(3, 2, "builtin", [_sample(0.2, 0.01, 5.0), _sample(0.1, 0.02, 7.0, running=5)])
    assert row["cluster"] == "3x2"
    assert row["up_s"] == row["ready_s"] == 0.1
    assert row["down_s"] == 0.01
    assert row["pods_per_s"] == pytest.approx(60.0)
    assert row["mem_mb"] == 7.0
    assert row["running"] == 5
    assert row["up_s_all"] == [0.2, 0.1]


# --- table ------------------------------------------------------------------------------------


def test_table_header_and_alignment():
    text = bench.format_table([_row("3x2", 6, up_s=0.065, pods_per_s=92.3, down_s=0.004, mem_mb=0.4, rss_mb=36.3), _row()])
    lines = text.splitlines()
    assert lines[0].split() == ["cluster", "pods", "cni", "up", "s", "pods/s", "down", "s", "mem", "MB", "rss", "MB", "leftovers"]
    assert len({len(line) for line in lines}) == 1  # every column is padded to one width
    assert lines[1].split() == ["3x2", "6", "builtin", "0.065", "92", "0.004", "0.4", "36.3", "0"]
    assert lines[2].split() == ["10x100", "1000", "builtin", "8.237", "121", "0.082", "288.5", "56.1", "0"]
    assert lines[1].startswith("3x2 ")  # text left-aligned, numbers right-aligned
    assert lines[1].index("0.065") + len("0.065") == lines[2].index("8.237") + len("8.237")


def test_table_shows_pods_not_running():
    line = bench.format_table([_row(running=998)]).splitlines()[1]
    assert line.split()[1] == "998/1000"


def test_empty_table_is_the_header():
    assert bench.format_table([]).split()[0] == "cluster"


# --- command line -----------------------------------------------------------------------------


@pytest.fixture
def no_run(monkeypatch):
    def fail(*_a, **_k):
        raise AssertionError("run() must not be reached")

    monkeypatch.setattr(bench, "run", fail)


@pytest.mark.parametrize("argv, message", [
    (["--sizes", "abc"], "podnet bench: invalid sizes: 'abc': use NODESxPODS_PER_NODE like 10x100"),
    (["--sizes", "3x2,0x1"], "podnet bench: invalid sizes: '0x1': use NODESxPODS_PER_NODE like 10x100"),
    (["--cni", "ptp"], "podnet bench: invalid cni: 'ptp': must be builtin or bridge"),
    (["--repeat", "0"], "podnet bench: invalid repeat: '0': must be a whole number from 1 to 100"),
    (["--policies", "-1"], "podnet bench: invalid policies: '-1': must be a whole number from 0 to 2000"),
])
def test_bad_input_is_one_line_and_exit_2(no_run, capsys, argv, message):
    assert bench.main(argv) == EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == ""
    assert err == message + "\n"


def test_sizes_the_spec_refuses_are_bad_input(no_run, capsys):
    assert bench.main(["--sizes", "250x1"]) == EXIT_BAD_INPUT  # the default underlay holds 244 nodes
    assert capsys.readouterr().err.count("\n") == 1


def test_main_prints_table_or_json(monkeypatch, capsys):
    seen = {}

    def fake_run(sizes, cni, repeat, progress=None, with_matrix=False, with_switch=False, services=0, policies=0, web=0,
                 kubectl=False, vs_floor=False):
        seen.update(sizes=sizes, cni=cni, repeat=repeat)
        return [_row()]

    monkeypatch.setattr(bench, "run", fake_run)
    assert bench.main(["--sizes", "10x100", "--cni", "bridge", "--repeat", "2"]) == EXIT_OK
    assert seen == {"sizes": [(10, 100)], "cni": "bridge", "repeat": 2}
    assert capsys.readouterr().out.splitlines()[0].startswith("cluster")
    assert bench.main(["-o", "json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)[0]["cluster"] == "10x100"


def test_interrupt_exits_130(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(state_store, "RUN_DIR", str(tmp_path))  # no lab of ours to tear down

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "run", interrupted)
    assert bench.main(["--sizes", "3x2"]) == EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err


# --- the NetworkPolicy benchmark --------------------------------------------------------------


def test_policy_sizes_put_the_same_pods_in_namespaces():
    spec = bench.size_spec(10, 10, in_namespaces=True)
    assert spec.pods == ()
    kinds = [d["kind"] for d in spec.workloads]
    assert kinds.count("Namespace") == 10 and kinds.count("Deployment") == 20
    assert sum(d["spec"]["replicas"] for d in spec.workloads if d["kind"] == "Deployment") == 100
    assert bench_measure.pod_count(spec) == 100 == bench_measure.pod_count(bench.size_spec(10, 10))
    small = bench.size_spec(3, 2, in_namespaces=True)
    assert sum(d["spec"]["replicas"] for d in small.workloads if d["kind"] == "Deployment") == 6


def test_policy_benchmark_policies_are_valid_and_use_every_kind():
    state = initial_state(bench.size_spec(10, 10, in_namespaces=True))
    state, _ = apply_objects(state, parse_documents(list(bench.size_spec(10, 10, in_namespaces=True).workloads)))
    docs = bench_policies.policies(100, 10, 10)
    state, result = apply_objects(state, parse_documents(docs))
    assert len(state.policies) == 100 and len(result.lines) == 100
    assert {d["metadata"]["namespace"] for d in docs} == {f"bench-{i}" for i in range(10)}
    kinds = {d["metadata"]["name"].split("-", 1)[1] for d in docs}
    assert kinds == {"deny", "same-ns-named", "from-team", "ns-and-pods", "ip-block", "egress-dns", "port-range",
                     "expressions", "egress-except", "udp-only"}


def test_policy_columns_and_ratio():
    sample = {**_sample(1.0, 0.1, 10.0), "policies": 100, "policy_namespaces": 10, "policy_matrix_pairs": 19800,
              "policy_matrix_denied": 15000, "policy_rules": 11000, "policy_apply_s": 0.5, "policy_relabel_s": 0.7,
              "policy_churn_s": 0.8, "open_matrix_cold_s": 1.2, "open_matrix_warm_s": 1.0,
              "policy_matrix_cold_s": 1.4, "policy_matrix_warm_s": 1.3, "policy_matrix_mismatch": 0}
    row = bench.summarize(10, 10, "builtin", [sample, {**sample, "policy_apply_s": 0.4, "policy_matrix_mismatch": 2}])
    assert row["policy_apply_s"] == 0.4 and row["policy_matrix_mismatch"] == 2
    assert row["policy_matrix_ratio"] == pytest.approx(1.3)
    header, line = bench.format_table([row]).splitlines()
    assert "policy matrix s" in header and "x open" in header
    assert line.endswith("15000/19800 (2 wrong)") and " 1.30 " in line


# --- the kubectl benchmark ---------------------------------------------------------------------


def _kubectl_sample(list_ms, kubectl_s, watch_ms):
    return {"up_s": 1.0, "down_s": 0.5, "close_s": 0.0, "pods": 100, "running": 100, "mem_mb": 40.0, "rss_mb": 50.0,
            "leftovers": 0, "leftover_names": [], "state_left": False, "api_ready_s": 0.5, "api_list_ms": list_ms,
            "api_list_ms_max": list_ms * 2, "api_list_rows": 110, "watch_ms": watch_ms, "watch_ms_max": watch_ms + 1,
            "kubectls": [{"kubectl": "v1.20.2", "kubectl_s": kubectl_s, "kubectl_s_max": kubectl_s, "kubectl_rows": 110},
                         {"kubectl": "v1.32.4", "kubectl_s": kubectl_s * 2, "kubectl_s_max": kubectl_s * 2,
                          "kubectl_rows": 110}]}


def test_kubectl_rows_keep_the_best_of_each_figure_and_show_every_binary():
    from podnet.cli.bench_report import format_table, summarize

    row = summarize(10, 10, "builtin", [_kubectl_sample(3.0, 0.09, 7.0), _kubectl_sample(2.0, 0.07, 9.0)])
    assert (row["api_list_ms"], row["watch_ms"], row["api_list_rows"]) == (2.0, 7.0, 110)
    assert [(k["kubectl"], k["kubectl_s"]) for k in row["kubectls"]] == [("v1.20.2", 0.07), ("v1.32.4", 0.14)]
    header, line = format_table([row]).splitlines()[:2]
    assert re.split(r"\s{2,}", header.strip())[-3:] == ["api list ms", "kubectl get pods -A -o wide s", "watch ms"], header
    assert re.split(r"\s{2,}", line.strip())[-3:] == ["2.0", "v1.20.2 0.070, v1.32.4 0.140", "7"], line
