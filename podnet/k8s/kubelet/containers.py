"""Starting and stopping the process that plays a Pod's container.

Mirrors the container runtime's part after the sandbox exists: the "container" is started
inside the Pod's network namespace (here: ``nsenter --net`` then podnet's small server),
its output goes to a log file (``podnet logs POD``), and the kubelet waits until it is
serving before the Pod counts as Ready (here: the server writes one byte to a pipe once
every port is bound). Stopping sends SIGTERM, then SIGKILL, to that PID only, after checking
it is still the same process (start time from /proc), never by name.
Deviation: no images, cgroups or mount namespaces; the process shares the machine's
filesystem (which is why ``podnet exec`` bind-mounts the Pod's resolv.conf itself).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from podnet.k8s.images import server as image_server
from podnet.kernel import netns
from podnet.core.errors import KernelError

READY_TIMEOUT = 10.0


@dataclass
class Started:
    pid: int
    start: str | None
    proc: subprocess.Popen
    ready_fd: int
    what: str


def log_path(lab_root: str, name: str) -> str:
    return os.path.join(lab_root, "logs", f"{name}.log")


def start(lab_root: str, ns: str, name: str, server_args: list[str]) -> Started:
    """Start ``podnet.k8s.images.server`` in namespace ``ns``; returns before it is ready."""
    os.makedirs(os.path.join(lab_root, "logs"), mode=0o700, exist_ok=True)
    log_fd = os.open(log_path(lab_root, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    read_end, write_end = os.pipe()
    # -I and cwd "/": a module in the caller's directory must never shadow the server's imports;
    # -S and the file by path: the server is standard library only, site-packages would cost
    # each Pod's process a megabyte more
    argv = ["nsenter", f"--net={netns.netns_path(ns)}", "--", sys.executable, "-I", "-S", image_server.__file__,
            *server_args, "--ready-fd", str(write_end)]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=log_fd, pass_fds=(write_end,),
                                start_new_session=True, close_fds=True, cwd="/")
    except OSError as exc:
        os.close(read_end)
        raise KernelError(f"could not start the container of {name} in {ns}: {exc}") from None
    finally:
        os.close(write_end)
        os.close(log_fd)
    return Started(proc.pid, None, proc, read_end, name)


def wait_ready(started: list[Started], timeout: float = READY_TIMEOUT) -> None:
    """Wait until every started server has bound its ports; raise naming the first that did
    not (its log says why)."""
    pending = {s.ready_fd: s for s in started}
    deadline = time.monotonic() + timeout
    poller = select.poll()  # not select(): a big lab holds more than 1024 descriptors
    for fd in pending:
        poller.register(fd, select.POLLIN | select.POLLHUP)
    try:
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                late = next(iter(pending.values()))
                raise KernelError(f"the container of {late.what} did not start serving within {timeout:g}s "
                                  "(see podnet logs)")
            ready = [fd for fd, _event in poller.poll(int(left * 1000) + 1)]
            for fd in ready:
                poller.unregister(fd)
                item = pending.pop(fd)
                if os.read(fd, 1) != b"1":
                    item.proc.wait(timeout=2)
                    raise KernelError(f"the container of {item.what} exited at start (status {item.proc.returncode}; "
                                      "see podnet logs)")
                item.start = netns.process_start_time(item.pid)
    finally:
        for s in started:
            try:
                os.close(s.ready_fd)
            except OSError:
                pass


def stop(pid: int | None, start_time: str | None, grace: float = 1.0) -> bool:
    """End the process ``pid`` if it is still the one started (same start time)."""
    if not pid or not netns.is_same_process(pid, start_time):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not netns.is_same_process(pid, start_time):
            break
        _reap(pid)
        time.sleep(0.01)
    else:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _reap(pid)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def alive(pid: int | None, start_time: str | None) -> bool:
    return bool(pid) and netns.is_same_process(pid, start_time)
