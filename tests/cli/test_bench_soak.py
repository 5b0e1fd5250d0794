"""The soak benchmark (podnet.cli.bench_soak): its input checks, the convergence-window
judgement, the report, and short real soaks (a 3x2 lab with 5 Services under churn, and one
stopped by SIGTERM) that must leave nothing behind."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time

import pytest

from podnet.cli import bench_soak
from podnet.cli.bench_soak_load import Records, Window, judge, problems
from podnet.core.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, InputError
from podnet.kernel import state_file
from tests.support.labs import OUR_LABS
from tests.support.processes import netns_list
from tests.support.registry import register

HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _lab_name() -> str:
    name = "soak" + secrets.token_hex(3)  # this engineer's prefix; recorded for the session's leftover check
    OUR_LABS.add(name)
    register(name)
    return name


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_soak.add_arguments(parser)
    return parser.parse_args(list(argv))


# --- input ------------------------------------------------------------------------------------


def test_the_soak_is_off_by_default_and_the_defaults_are_the_issues():
    args = _args()
    assert (args.soak, args.soak_services, args.soak_churn_ms) == ("0", "100", "100")
    assert bench_soak.parse_soak(args) is None
    assert bench_soak.parse_soak(_args("--soak", "300")) == (300, 100, 100)
    asked = _args("--soak", " 8 ", "--soak-services", "5", "--soak-churn-ms", "200")
    assert bench_soak.parse_soak(asked) == (8, 5, 200)


@pytest.mark.parametrize("option, value, field, allowed", [
    ("--soak", "-5", "soak", "from 0 to 86400"),
    ("--soak", "abc", "soak", "from 0 to 86400"),
    ("--soak", "1.5", "soak", "from 0 to 86400"),
    ("--soak", "", "soak", "from 0 to 86400"),
    ("--soak", "٣", "soak", "from 0 to 86400"),
    ("--soak", "86401", "soak", "from 0 to 86400"),
    ("--soak-services", "0", "soak-services", "from 1 to 5000"),
    ("--soak-services", "-1", "soak-services", "from 1 to 5000"),
    ("--soak-services", "ten", "soak-services", "from 1 to 5000"),
    ("--soak-churn-ms", "5", "soak-churn-ms", "from 10 to 60000"),
    ("--soak-churn-ms", "1e3", "soak-churn-ms", "from 10 to 60000"),
])
def test_bad_values_are_one_input_error_naming_the_field(option, value, field, allowed):
    with pytest.raises(InputError) as info:
        bench_soak.parse_soak(_args("--soak", "10", option, value) if option != "--soak" else _args(option, value))
    assert str(info.value) == f"invalid {field}: {value!r}: must be a whole number {allowed}"
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("seconds, services, churn, sizes, field", [
    (-1, 5, 200, (3, 2), "soak"), ("x", 5, 200, (3, 2), "soak"), (8, 0, 200, (3, 2), "soak-services"),
    (8, 5, 1, (3, 2), "soak-churn-ms"), (8, 5, 200, (1, 2), "sizes"), (8, 5, 200, (3, 101), "sizes"),
    (True, 5, 200, (3, 2), "soak"),
])
def test_run_soak_refuses_bad_input_before_making_anything(seconds, services, churn, sizes, field):
    name = _lab_name()
    with pytest.raises(InputError) as info:
        bench_soak.run_soak(seconds, services, churn, None, sizes, lab=name)
    assert info.value.field == field
    assert not state_file.exists(name) and not [n for n in netns_list() if n.startswith(name + "-")]


def test_the_command_line_says_one_line_and_exits_2():
    result = subprocess.run([sys.executable, "-m", "podnet.cli.bench_soak", "--soak", "-3"], cwd=HERE,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == EXIT_BAD_INPUT
    assert result.stderr == "podnet bench: invalid soak: '-3': must be a whole number from 0 to 86400\n"
    assert result.stdout == ""


# --- the plan ----------------------------------------------------------------------------------


def test_the_plan_splits_the_pods_into_clients_and_backend_deployments():
    assert bench_soak.plan(10, 10, 100) == bench_soak.Plan(10, 10, 10, (9,) * 10, 100)
    assert bench_soak.plan(3, 2, 5) == bench_soak.Plan(3, 2, 1, (3, 2), 5)
    assert bench_soak.plan(10, 10, 1).groups == (90,)
    services = bench_soak.service_docs(bench_soak.plan(3, 2, 5))
    assert [s["spec"]["selector"]["group"] for s in services] == ["0", "1", "0", "1", "0"]
    docs = bench_soak.workload_docs(bench_soak.plan(3, 2, 5))
    assert [(d["metadata"]["name"], d["spec"]["replicas"]) for d in docs] == [("client", 1), ("web-0", 3), ("web-1", 2)]


# --- the window judgement -----------------------------------------------------------------------


def test_a_failure_counts_inside_only_when_in_flight_during_a_window_of_its_services_group():
    windows = [Window(10.0, 12.0, frozenset({0})), Window(12.5, 14.0, frozenset({1})),
               Window(20.0, 21.0, frozenset({0, 1}))]
    records = Records(failures=[
        (10.5, 11.5, 0, "timeout"),   # inside the first window, its group
        (9.5, 10.1, 0, "timeout"),    # in flight when the first window opened
        (11.9, 12.9, 1, "timeout"),   # reaches into the second window, group 1
        (10.5, 11.5, 1, "timeout"),   # during the first window, but group 1 lost nothing there
        (15.0, 16.0, 0, "timeout"),   # between windows
        (21.5, 22.5, 1, "timeout"),   # after the last one
        (20.5, 20.6, 1, "refused"),   # the third window took from both groups
    ], unknown=[(12.6, 12.7, 1, "web-1-new"), (12.6, 12.7, 1, "web-9-stranger")], dropped=2)
    verdict = judge(records, windows, {0: {"web-0-a"}, 1: {"web-1-a", "web-1-new"}})
    assert verdict == {"inside": 4, "outside": 3 + 2, "wrong_backend": 1}


def _row(**over):
    sample = {"at_s": 0.0, "self_rss_mb": 50.0, "self_fds": 40, "lab_processes": 7, "lab_rss_mb": 88.0, "lab_fds": 44,
              "apiserver_rss_mb": 60.0, "apiserver_fds": 7, "mem_available_mb": 20000.0, "lab_namespaces": 13,
              "machine_namespaces": 40}
    row = {"cluster": "3x2", "cni": "builtin", "soak_s": 8, "elapsed_s": 8.6, "services": 5, "backends": 5,
           "deployments": 2, "clients": 1, "up_s": 0.4, "svc_apply_s": 0.1, "churn_ms": 200,
           "requests_sent": 4321, "requests_answered": 4300, "requests_failed": 21, "wrong_answers": 0,
           "failed_in_window": 21, "failed_outside_window": 0,
           "by_protocol": {"tcp": {"sent": 2161, "answered": 2150, "failed": 11, "wrong": 0},
                           "udp": {"sent": 2160, "answered": 2150, "failed": 10, "wrong": 0}},
           "request_rate_limit": 200.0, "request_timeout_s": 1.0, "pods_deleted": 38, "pods_due": 43, "batches": 27,
           "churn_every_ms": 226.3, "window_ms_median": 271.0, "window_ms_max": 523.0, "window_bound_ms": 60000.0,
           "windows_over_bound": 0, "window_share": 0.87, "rule_checks": 27, "stale_rules": 0,
           "samples": {"start": dict(sample), "middle": dict(sample, at_s=4.1), "end": dict(sample, at_s=8.6)},
           "rss_growth_mb": 0.2, "rss_bound_mb": 64.0, "mem_available_drop_mb": 3.0, "mem_available_bound_mb": 1024.0,
           "mem_available_judged": True,
           "fd_growth": 0, "fd_bound": 64, "namespace_growth": 0, "clients_stopped": True,
           "api_lists": 1, "api_lists_failed": 0, "api_list_ms_max": 12.0,
           "deleted_namespaces": 13, "leftovers": 0, "leftover_names": [], "state_left": False}
    row.update(over)
    row["problems"] = problems(row)
    row["ok"] = not row["problems"]
    return row


def test_the_report_carries_the_figures_and_the_bounds():
    text = bench_soak.format_soak(_row())
    for figure in ("4321", "4300", "2161", "38 Pods deleted of 43 due", "27 batches", "median 271 ms", "max 523 ms",
                   "bound 60000 ms", "87%", "3x2", "13 namespaces deleted, 0 left behind", "result: PASS"):
        assert figure in text, figure
    assert "+0.2 middle->end" in text and "-3 middle->end" in text and "+0 start->end" in text


@pytest.mark.parametrize("over, why", [
    ({"failed_outside_window": 2}, "2 requests failed outside the convergence window"),
    ({"wrong_answers": 1}, "1 answers came from a Pod not behind the Service"),
    ({"windows_over_bound": 1}, "1 convergence windows longer than 60 s"),
    ({"stale_rules": 3}, "3 deleted Pods still had DNAT rules"),
    ({"rss_growth_mb": 80.5}, "RSS grew 80.5 MB from the middle to the end (bound 64)"),
    ({"fd_growth": 65}, "open descriptors grew by 65 (bound 64)"),
    ({"mem_available_drop_mb": 2000.0}, "MemAvailable fell 2000.0 MB from the middle to the end (bound 1024)"),
    ({"namespace_growth": 1}, "the lab's namespaces in /run/netns went from 13 to 13"),
    ({"api_lists_failed": 1}, "the lab's API server failed 1 of 2 Pod lists"),
    ({"leftovers": 1, "leftover_names": ["soak-x-node-1"]}, "teardown left soak-x-node-1 behind"),
    ({"requests_answered": 0}, "4321 requests sent, 0 answered"),
])
def test_each_problem_fails_the_soak_and_is_named(over, why):
    row = _row(**over)
    assert not row["ok"]
    assert any(p.startswith(why) for p in row["problems"]), row["problems"]
    assert bench_soak.format_soak(row).splitlines()[-1].startswith("result: FAIL: ")


def test_memavailable_is_not_judged_when_other_labs_came_or_went():
    from podnet.cli.bench_soak_load import others_steady
    middle = {"machine_namespaces": 40, "lab_namespaces": 13}
    assert others_steady(middle, {"machine_namespaces": 40, "lab_namespaces": 13})
    assert not others_steady(middle, {"machine_namespaces": 150, "lab_namespaces": 13})
    row = _row(mem_available_drop_mb=2000.0, mem_available_judged=False)
    row["samples"]["end"]["machine_namespaces"] = 150
    row = _row(**{k: v for k, v in row.items() if k not in ("problems", "ok")})
    assert row["ok"], row["problems"]
    assert "-2000 middle->end (not judged: other labs' namespaces 27 -> 137)" in bench_soak.format_soak(row)


# --- real soaks ---------------------------------------------------------------------------------


def _ours_left(name: str) -> list[str]:
    left = [n for n in netns_list() if n.startswith(name + "-")]
    if state_file.exists(name) or os.path.exists(os.path.join(state_file.RUN_DIR, name)):
        left.append(os.path.join(state_file.RUN_DIR, name))
    return left


@pytest.mark.root
def test_a_short_soak_answers_through_the_churn_and_leaves_nothing_behind():
    name = _lab_name()
    lines: list[str] = []
    row = bench_soak.run_soak(8, 5, 200, lines.append, (3, 2), lab=name)
    assert row["requests_sent"] > 0 and row["requests_answered"] > 0
    assert row["requests_sent"] == row["requests_answered"] + row["requests_failed"]
    assert row["failed_outside_window"] == 0 and row["failed_in_window"] == row["requests_failed"]
    assert row["wrong_answers"] == 0
    assert row["pods_deleted"] > 0 and row["batches"] > 0 and row["window_ms_max"] > 0
    assert row["rule_checks"] == row["batches"] and row["stale_rules"] == 0
    assert row["samples"]["start"]["lab_processes"] > 0 and row["samples"]["end"]["apiserver_rss_mb"] > 0
    assert row["api_lists"] >= 1 and row["api_lists_failed"] == 0
    assert row["ok"], row["problems"]
    assert row["leftovers"] == 0 and not row["state_left"]
    assert _ours_left(name) == []
    assert any(" requests, " in line and " Pods deleted in " in line for line in lines), lines
    assert json.loads(json.dumps(row)) == row  # the row is JSON as it is (bench -o json)
    text = bench_soak.format_soak(row)
    assert str(row["requests_sent"]) in text and f"{row['pods_deleted']} Pods deleted" in text


@pytest.mark.root
def test_sigterm_during_a_soak_tears_the_lab_down():
    name = _lab_name()
    proc = subprocess.Popen([sys.executable, "-m", "podnet.cli.bench_soak", "--soak", "120", "--size", "3x2",
                             "--soak-services", "5", "--soak-churn-ms", "100", "--name", name],
                            cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        seen = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            seen.append(line)
            if "soaking" in line or not line:
                break
        assert "soaking" in seen[-1], seen
        assert [n for n in netns_list() if n.startswith(name + "-")], "the lab was not up"
        time.sleep(2.5)  # churn and requests are running
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert f"0 '{name}-*' namespaces left behind" in err
    assert _ours_left(name) == []
