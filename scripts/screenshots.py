"""Take the README's screenshots of podnet web on a lab like the demo's (run as root, after
scripts/test.sh has installed chromium and selenium):

    sudo .venv/bin/python scripts/screenshots.py docs/images

Brings up lab ``shots`` (3 nodes, topologies/workloads/web.yaml), traces the four kinds of
traffic, then applies the web policy and runs the matrix (its truth table), serves the page, saves PNGs of the
figure with an External-to-Service path, the matrix as a truth table and projector mode,
then takes everything down again (the lab, the server by its PID, the browser).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PODNET = [sys.executable, "-m", "podnet"]
LAB = "shots"


def podnet(*args: str) -> None:
    subprocess.run([*PODNET, *args, "--name", LAB], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def main(out: str) -> int:
    sys.path.insert(0, REPO)
    from podnet.cli.bench_web import browser

    os.makedirs(out, exist_ok=True)
    podnet("up", "-d", "-f", os.path.join(REPO, "topologies", "workloads", "web.yaml"))
    server = driver = None
    try:
        for source, target in (("client", "pod-3-2"), ("client", "internet:80"), ("client", "web:80"),
                               ("external", "node-2:30080")):
            podnet("trace", source, target)
        podnet("apply", "-f", os.path.join(REPO, "topologies", "workloads", "web-policy.yaml"))
        subprocess.run([*PODNET, "probe", "--all", "--name", LAB], cwd=REPO, stdout=subprocess.DEVNULL)
        server = subprocess.Popen([*PODNET, "web", "--name", LAB, "--port", "0", "-o", "json"], cwd=REPO,
                                  stdout=subprocess.PIPE, text=True)
        url = json.loads(server.stdout.readline())["url"]
        driver = browser()
        driver.get(url)
        time.sleep(1.5)
        driver.save_screenshot(os.path.join(out, "web-figure.png"))
        driver.find_element("css selector", 'button[data-tab="matrix"]').click()
        time.sleep(0.5)
        driver.save_screenshot(os.path.join(out, "web-matrix.png"))
        driver.get(url + "?projector=1")
        time.sleep(1.5)
        driver.save_screenshot(os.path.join(out, "web-projector.png"))
    finally:
        if driver is not None:
            driver.quit()
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        subprocess.run([*PODNET, "down", "--name", LAB], cwd=REPO, stdout=subprocess.DEVNULL)
    print(f"screenshots in {out}: web-figure.png, web-matrix.png, web-projector.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "docs", "images")))
