"""``podnet bench --web``: the live page measured in a real headless Chromium.

Mirrors nothing in Kubernetes; it measures what an instructor waits for at a projector. On a
NODESxPODS lab with SERVICES ClusterIP Services (a Deployment behind them): how long the page
takes from navigation to the figure drawn (best of 3 loads), how long after a change is saved
from another process (a Pod deleted and replaced) the page has drawn it (median of 3), and,
while the reachability matrix runs in another process, the worst delay of the page's own
timers (how responsive it stays) and how long after the matrix ends its grid is on the page.
The browser is Debian's chromium driven through chromedriver by Selenium (installed with the
test tools); nothing is downloaded. The page reports its draws in ``window.podnetDraws``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from podnet.core.errors import KernelError
from podnet.k8s.workloads.manifests import parse_documents
from podnet.lab import activity

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
LAG_PROBE = """
window.podnetLag = {max: 0, last: performance.now()};
window.podnetLagTimer = setInterval(() => {
  const now = performance.now();
  window.podnetLag.max = Math.max(window.podnetLag.max, now - window.podnetLag.last - 50);
  window.podnetLag.last = now;
}, 50);
"""


def browser():
    """A headless Chromium, or KernelError saying what is missing."""
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium never fetches a driver
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise KernelError("podnet bench --web needs selenium (scripts/test.sh installs it)") from None
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        raise KernelError("podnet bench --web needs chromium and chromium-driver (scripts/test.sh installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def workload_docs(services: int, replicas: int) -> list[dict]:
    docs: list[dict] = [{
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench-web"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench-web"}},
                 "template": {"metadata": {"labels": {"app": "bench-web"}},
                              "spec": {"containers": [{"name": "echo", "ports": [{"containerPort": 8080}]}]}}}}]
    return docs + [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"bench-svc-{i}"},
                    "spec": {"selector": {"app": "bench-web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
                   for i in range(services)]


def _draws(driver) -> list[dict]:
    return driver.execute_script("return window.podnetDraws || []")


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise KernelError(f"the page did not show {what} within {timeout:g} s")


def measure_render(driver, url: str, loads: int = 3) -> dict[str, Any]:
    times, pods, services = [], 0, 0
    for _ in range(loads):
        driver.get("about:blank")
        driver.get(url)
        first = _wait(lambda: _draws(driver), 20, "the figure")[0]
        times.append(first["t"])
        pods = driver.execute_script("return document.querySelectorAll('g.pod').length")
        services = driver.execute_script("return document.querySelectorAll('g.service').length")
    return {"render_ms": min(times), "render_ms_all": times, "pods_drawn": pods, "services_drawn": services}


def measure_updates(driver, lab, rounds: int = 3) -> dict[str, Any]:
    """A Pod deleted (and replaced) by this process, as a terminal would. The page's version of
    the figure is the state file's mtime, so each draw says when the state it shows was saved."""
    latencies = []
    for _ in range(rounds):
        seen = len(_draws(driver))
        victim = sorted(p.name for p in lab.state.pods.values() if p.owner == "default/bench-web")[0]
        lab.delete("pod", [victim], "default")
        gone = f'g.pod[data-name="{victim}"]'
        _wait(lambda: driver.execute_script("return !document.querySelector(arguments[0])", gone), 10, "the deleted Pod gone")
        draws = _draws(driver)[seen:]
        latencies += [d["at"] - d["version"] / 1e6 for d in draws]
    return {"update_ms": statistics.median(latencies), "update_ms_max": max(latencies), "update_ms_all": latencies}


def measure_during_matrix(driver, lab_name: str) -> dict[str, Any]:
    """The page's worst timer delay while the matrix runs beside it, and how long after the
    matrix recorded its result the page showed the grid."""
    driver.execute_script(LAG_PROBE)
    proc = subprocess.run([sys.executable, "-m", "podnet", "probe", "--all", "--name", lab_name, "-o", "json"],
                          capture_output=True, text=True, timeout=600)
    lag = driver.execute_script("clearInterval(window.podnetLagTimer); return window.podnetLag.max")
    pairs = json.loads(proc.stdout)["pairs"] if proc.stdout.strip() else 0
    recorded = [i for i in activity.recent(lab_name) if i["kind"] == "matrix"][-1]["at"]
    shown = _wait(lambda: (driver.execute_script("return window.podnetMatrixAt || 0") / 1000.0 >= recorded
                           and driver.execute_script("return window.podnetMatrixAt") / 1000.0), 10, "the matrix")
    return {"web_matrix_pairs": pairs, "matrix_lag_ms": lag, "matrix_shown_ms": (shown - recorded) * 1000.0}


def run_web(lab, services: int, say) -> dict[str, Any]:
    """Every measurement on the running ``lab``; the server and the browser are ours to end."""
    replicas = max(3, len(lab.state.nodes))
    lab.apply(parse_documents(workload_docs(services, replicas), "bench"))
    server = subprocess.Popen([sys.executable, "-m", "podnet", "web", "--name", lab.state.name, "--port", "0",
                               "-o", "json"], stdout=subprocess.PIPE, text=True)
    driver = None
    try:
        url = json.loads(server.stdout.readline())["url"]
        driver = browser()
        row = measure_render(driver, url)
        say(f"bench web: figure drawn in {row['render_ms']:.0f} ms ({row['pods_drawn']} Pods, "
            f"{row['services_drawn']} Services)")
        row.update(measure_updates(driver, lab))
        say(f"bench web: a change drawn {row['update_ms']:.0f} ms after it was saved")
        row.update(measure_during_matrix(driver, lab.state.name))
        say(f"bench web: during a {row['web_matrix_pairs']}-pair matrix the page's timers lagged at most "
            f"{row['matrix_lag_ms']:.0f} ms; its grid was shown {row['matrix_shown_ms']:.0f} ms after it ended")
        return {"web_services": services, **row}
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        server.stdout.close()
