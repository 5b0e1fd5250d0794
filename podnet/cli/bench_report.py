"""The benchmark's rows: best of the repeats, and the table or JSON people read.

Mirrors nothing in Kubernetes. Seconds are the best (minimum) of ``--repeat`` runs, memory the
worst (maximum); Pods not Running show as R/N; the matrix, routing-switch and Services
figures add columns when measured. With ``--vs-floor`` each floor adds its up seconds and
podnet's ratios to it (``x ip-batch up`` is podnet's up time over the floor's; "-" where
the floor's memory is too small to divide by).
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from podnet.cli.bench_measure import size_label

COLUMNS = ("cluster", "pods", "cni", "up s", "pods/s", "down s", "mem MB", "rss MB", "leftovers")
MATRIX_COLUMNS = ("matrix pairs", "cold s", "warm s", "us/pair")
FLOOR_KINDS = ("ip-batch", "mininet")  # podnet.cli.bench_floor.FLOORS, in the order they are built
_LEFT_ALIGNED = {"cluster", "cni"}


def summarize(nodes: int, per_node: int, cni: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from ``repeat`` samples: best seconds, worst memory, worst counts."""
    up_s = min(s["up_s"] for s in samples)
    pods = samples[0]["pods"]
    return {
        "cluster": size_label(nodes, per_node),
        "nodes": nodes,
        "pods_per_node": per_node,
        "pods": pods,
        "running": min(s["running"] for s in samples),
        "cni": cni,
        "runs": len(samples),
        "up_s": up_s,
        "ready_s": up_s,  # up returns when every Pod has been synced
        "pods_per_s": pods / up_s if up_s > 0 else 0.0,
        "down_s": min(s["down_s"] for s in samples),
        "close_s": min(s["close_s"] for s in samples),
        "mem_mb": max(s["mem_mb"] for s in samples),
        "rss_mb": max(s["rss_mb"] for s in samples),
        "leftovers": max(s["leftovers"] for s in samples),
        "leftover_names": sorted({n for s in samples for n in s["leftover_names"]}),
        "state_left": any(s["state_left"] for s in samples),
        "up_s_all": [s["up_s"] for s in samples],
        "down_s_all": [s["down_s"] for s in samples],
        **({"matrix_pairs": samples[0]["matrix_pairs"],
            "matrix_failed": max(s["matrix_failed"] for s in samples),
            "matrix_cold_s": min(s["matrix_cold_s"] for s in samples),
            "matrix_warm_s": min(s["matrix_warm_s"] for s in samples)} if "matrix_pairs" in samples[0] else {}),
        **({"to_vxlan_s": min(s["to_vxlan_s"] for s in samples),
            "to_hostgw_s": min(s["to_hostgw_s"] for s in samples)} if "to_vxlan_s" in samples[0] else {}),
        **({"services": samples[0]["services"],
            "svc_apply_s": min(s["svc_apply_s"] for s in samples),
            "svc_sync_s": min(s["svc_sync_s"] for s in samples),
            "svc_churn_s": min(s["svc_churn_s"] for s in samples),
            "svc_requests": samples[0]["svc_requests"],
            "svc_requests_ok": min(s["svc_requests_ok"] for s in samples),
            "svc_request_ms": min(s["svc_request_ms"] for s in samples),
            "svc_backends": min(s["svc_backends"] for s in samples)} if "services" in samples[0] else {}),
        **(_policy_summary(samples) if "policies" in samples[0] else {}),
        **(_web_summary(samples) if "web_services" in samples[0] else {}),
        **(_kubectl_summary(samples) if "api_list_ms" in samples[0] else {}),
    }


def _kubectl_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    row = {key: min(s[key] for s in samples) for key in ("api_ready_s", "api_list_ms", "api_list_ms_max", "watch_ms",
                                                          "watch_ms_max")}
    row["api_list_rows"] = samples[0]["api_list_rows"]
    row["kubectls"] = [dict(timed, kubectl_s=min(s["kubectls"][i]["kubectl_s"] for s in samples))
                       for i, timed in enumerate(samples[0]["kubectls"])]
    return row


def _web_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {"web_services": samples[0]["web_services"], "pods_drawn": samples[0]["pods_drawn"],
            "services_drawn": samples[0]["services_drawn"],
            "render_ms": min(s["render_ms"] for s in samples), "update_ms": min(s["update_ms"] for s in samples),
            "matrix_lag_ms": min(s["matrix_lag_ms"] for s in samples),
            "matrix_shown_ms": min(s["matrix_shown_ms"] for s in samples)}


def _policy_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {key: samples[0][key] for key in ("policies", "policy_namespaces", "policy_matrix_pairs",
                                                            "policy_matrix_denied", "policy_rules")}
    for key in ("policy_apply_s", "policy_relabel_s", "policy_churn_s", "open_matrix_cold_s", "open_matrix_warm_s",
                "policy_matrix_cold_s", "policy_matrix_warm_s"):
        row[key] = min(s[key] for s in samples)
    row["policy_matrix_mismatch"] = max(s["policy_matrix_mismatch"] for s in samples)
    row["policy_matrix_ratio"] = row["policy_matrix_warm_s"] / row["open_matrix_warm_s"] if row["open_matrix_warm_s"] else 0.0
    return row


def _cells(row: dict[str, Any]) -> list[str]:
    pods, running = row["pods"], row.get("running", row["pods"])
    return [
        str(row["cluster"]),
        str(pods) if running == pods else f"{running}/{pods}",
        str(row["cni"]),
        f"{row['up_s']:.3f}",
        f"{row['pods_per_s']:.0f}",
        f"{row['down_s']:.3f}",
        f"{row['mem_mb']:.1f}",
        f"{row['rss_mb']:.1f}",
        str(row["leftovers"]),
    ]


def _times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}"


def format_table(rows: Iterable[dict[str, Any]]) -> str:
    """An aligned plain-text table, one line per size; Pods not Running show as R/N. With
    matrix figures, four columns more: pairs, cold and warm seconds, and µs per pair
    (warm, UDP and TCP together)."""
    rows = list(rows)
    columns = list(COLUMNS)
    lines = [_cells(row) for row in rows]
    if rows and all("to_vxlan_s" in row for row in rows):
        columns += ["to vxlan s", "to host-gw s"]
        for line, row in zip(lines, rows):
            line += [f"{row['to_vxlan_s']:.3f}", f"{row['to_hostgw_s']:.3f}"]
    if rows and all("services" in row for row in rows):
        columns += ["services", "apply s", "re-sync s", "churn s", "ms/request"]
        for line, row in zip(lines, rows):
            line += [str(row["services"]), f"{row['svc_apply_s']:.3f}", f"{row['svc_sync_s']:.3f}",
                     f"{row['svc_churn_s']:.3f}", f"{row['svc_request_ms']:.2f}"
                     + ("" if row["svc_requests_ok"] == row["svc_requests"] else f" ({row['svc_requests_ok']} ok)")]
    if rows and all("policies" in row for row in rows):
        columns += ["policies", "rules", "apply s", "relabel s", "churn s", "open matrix s", "policy matrix s", "x open",
                    "denied"]
        for line, row in zip(lines, rows):
            line += [str(row["policies"]), str(row["policy_rules"]), f"{row['policy_apply_s']:.3f}",
                     f"{row['policy_relabel_s']:.3f}", f"{row['policy_churn_s']:.3f}", f"{row['open_matrix_warm_s']:.3f}",
                     f"{row['policy_matrix_warm_s']:.3f}", f"{row['policy_matrix_ratio']:.2f}",
                     f"{row['policy_matrix_denied']}/{row['policy_matrix_pairs']}"
                     + ("" if not row["policy_matrix_mismatch"] else f" ({row['policy_matrix_mismatch']} wrong)")]
    if rows and all("web_services" in row for row in rows):
        columns += ["services", "drawn", "render ms", "update ms", "lag in matrix ms", "matrix shown ms"]
        for line, row in zip(lines, rows):
            line += [str(row["web_services"]), f"{row['pods_drawn']}+{row['services_drawn']}", f"{row['render_ms']:.0f}",
                     f"{row['update_ms']:.0f}", f"{row['matrix_lag_ms']:.0f}", f"{row['matrix_shown_ms']:.0f}"]
    if rows and all("api_list_ms" in row for row in rows):
        columns += ["api list ms", "kubectl get pods -A -o wide s", "watch ms"]
        for line, row in zip(lines, rows):
            timed = ", ".join(f"{k['kubectl']} {k['kubectl_s']:.3f}" for k in row["kubectls"]) or "no kubectl"
            line += [f"{row['api_list_ms']:.1f}", timed, f"{row['watch_ms']:.0f}"]
    if rows and all("floors" in row for row in rows):
        kinds = [kind for kind in FLOOR_KINDS if all(kind in row["floors"] for row in rows)]
        for kind in kinds:
            columns += [f"{kind} up s", f"x {kind} up", f"x {kind} down", f"x {kind} mem"]
        for line, row in zip(lines, rows):
            for kind in kinds:
                ratio = row["ratios"][kind]
                line += [f"{row['floors'][kind]['up_s']:.3f}"] + [_times(ratio[name]) for name in ("up", "down", "mem")]
    if rows and all("matrix_pairs" in row for row in rows):
        columns += list(MATRIX_COLUMNS)
        for line, row in zip(lines, rows):
            per_pair = row["matrix_warm_s"] / max(row["matrix_pairs"], 1) * 1e6
            line += [str(row["matrix_pairs"]) + ("" if not row["matrix_failed"] else f" ({row['matrix_failed']} failed)"),
                     f"{row['matrix_cold_s']:.3f}", f"{row['matrix_warm_s']:.3f}", f"{per_pair:.0f}"]
    lines = [columns] + lines
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    out = []
    for line in lines:
        cells = [
            cell.ljust(width) if name in _LEFT_ALIGNED else cell.rjust(width)
            for name, cell, width in zip(columns, line, widths)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def format_json(rows: Iterable[dict[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2)
