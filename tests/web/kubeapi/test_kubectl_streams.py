"""kubectl logs and kubectl exec against a lab: what a Pod's container printed, and commands
run in the Pod's own network namespace (SPDY/3.1 for kubectl v1.20, WebSocket first for the
newer one) with stdout, stderr, stdin and the exit code carried back; and the API server
goes with the lab, leaving nothing behind."""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import socket
import struct
import subprocess
import termios
import time

import pytest

from tests.support.kubectl import Kubectl, binaries
from tests.support.labs import Lab
from tests.support.processes import TOPOLOGIES, explain, podnet, wait_until

pytestmark = [pytest.mark.root, pytest.mark.xdist_group("kubectl-streams")]
KUBECTLS = binaries()


@pytest.fixture(scope="module")
def lab():
    lab = Lab()
    lab.up("--nodes", "2", "--pods-per-node", "2", "-f", str(TOPOLOGIES / "workloads" / "web.yaml"))
    yield lab
    lab.down()



def test_logs_are_what_the_container_printed(kubectl, lab):
    web = sorted(n for n in lab.pods() if n.startswith("web-"))[0]
    printed = podnet("logs", "--name", lab.name, web, check=True).stdout
    logs = kubectl("logs", web, check=True).stdout
    assert logs == printed and f"{web}: serving 8080/TCP" in logs, (logs, printed)
    assert kubectl("logs", web, "--tail=1", check=True).stdout == printed.splitlines(keepends=True)[-1]
    missing = kubectl("logs", "nope")
    assert missing.returncode == 1 and 'pods "nope" not found' in missing.stderr, missing.stderr


def test_exec_runs_in_the_pods_own_namespace(kubectl, lab):
    addr = kubectl("exec", "pod-2-1", "--", "ip", "-4", "-o", "addr", "show", "eth0", check=True).stdout
    assert f"inet {lab.pod_ip('pod-2-1')}/" in addr, addr
    routes = kubectl("exec", "pod-2-1", "--", "ip", "route", check=True).stdout
    assert routes.startswith("default via "), routes


def test_exec_carries_stderr_stdin_and_the_exit_code(kubectl):
    failed = kubectl("exec", "pod-1-2", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert failed.returncode == 3, explain(failed)
    assert failed.stdout == "out\n" and "err\n" in failed.stderr, failed
    assert "command terminated with exit code 3" in failed.stderr, failed.stderr
    echoed = kubectl("exec", "-i", "pod-1-2", "--", "sh", "-c", "tr a-z A-Z; echo done", input="from stdin\n")
    assert echoed.returncode == 0 and echoed.stdout == "FROM STDIN\ndone\n", explain(echoed)


def test_exec_with_a_terminal_has_a_tty_of_the_clients_size_and_its_exit_code(kubectl, lab):
    """``kubectl exec -it`` from a real terminal (a pty of 33 rows by 101 columns): the shell
    in the Pod has a terminal of its own, of that size, and its exit status comes back."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen(kubectl.argv("exec", "-it", "pod-2-2", "--", "sh"), stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True, env=dict(os.environ, HOME=str(lab.run_dir)))
    os.close(slave)
    seen = b""
    try:
        os.write(master, b"tty; stty size; exit 7\n")  # the terminal holds it until the shell reads it
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and b"exit code 7" not in seen:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:  # EIO: kubectl has exited
                    break
        assert proc.wait(timeout=20) == 7, seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    lines = seen.decode(errors="replace").replace("\r", "").splitlines()
    assert any(re.fullmatch(r"(# )?/dev/pts/\d+", line) for line in lines), lines  # after the prompt, maybe
    assert "33 101" in lines and "command terminated with exit code 7" in lines, lines


def test_exec_in_a_pod_that_is_not_there_is_refused(kubectl):
    missing = kubectl("exec", "nope", "--", "true")
    assert missing.returncode == 1 and 'pods "nope" not found' in missing.stderr, missing.stderr


def test_down_ends_the_api_server_and_leaves_nothing(make_lab, tmp_path):
    lab = make_lab()
    lab.up("--nodes", "1", "--pods-per-node", "1")
    config = json.loads(podnet("kubeconfig", "--name", lab.name, "-o", "json", check=True).stdout)
    port = int(re.search(r":(\d+)$", config["clusters"][0]["cluster"]["server"]).group(1))
    with open(os.path.join(lab.run_dir, "apiserver", "process.json"), encoding="utf-8") as handle:
        pid = json.load(handle)["pid"]
    assert os.path.exists(f"/proc/{pid}"), "the API server runs while the lab does"
    kubectl = Kubectl(KUBECTLS[0], lab.name, tmp_path)
    assert kubectl("get", "pods", check=True).stdout.startswith("NAME")
    down = lab.down()
    assert down.returncode == 0, explain(down)
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 5, what=f"the API server (PID {pid}) to be gone")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "nothing listens on the lab's API port any more"
    assert not os.path.exists(lab.run_dir)
    gone = kubectl("get", "pods", timeout=30)
    assert gone.returncode == 1 and "refused" in gone.stderr, gone.stderr
    again = podnet("kubeconfig", "--name", lab.name)
    assert again.returncode == 2 and "no such lab" in again.stderr, explain(again)
