"""The lab's Kubernetes API server as a process: started with the lab, found by its files,
ended with the lab by PID.

Mirrors how kind runs kube-apiserver for each cluster (one per cluster, reachable only from
the machine that runs it). podnet's is ``python -m podnet apiserver --name LAB``, in the root
network namespace on 127.0.0.1, in a session of its own (a Ctrl-C in the terminal that started
the lab reaches the lab's teardown, which ends it). It is socket-activated
(:mod:`podnet.lab.api_activator`): ``start`` spawns a small process that listens on the
lab's address and becomes the server, under the same PID, on the first connection. Its PID
and start time are written the moment it is spawned, so a teardown that comes before it is
ready still finds it; the port is written once it listens (``endpoint.json``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from podnet.kernel import state_file
from podnet.lab import api_activator
from podnet.kernel.netns import is_same_process, process_start_time
from podnet.kernel.processes import end_recorded


DEFAULT_LISTEN = "127.0.0.1"


def directory(lab: str) -> str:
    return os.path.join(state_file.LabPaths(lab).root, "apiserver")


def _read(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _write(path: str, data: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(data, out)
    os.rename(tmp, path)


def start(lab: str, listen: str = DEFAULT_LISTEN) -> int:
    """Spawn the lab's API server on ``listen``; returns its PID (it becomes ready on its own)."""
    folder = directory(lab)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        os.unlink(os.path.join(folder, "endpoint.json"))  # a previous server's port is no longer true
    except FileNotFoundError:
        pass
    server = [sys.executable, "-m", "podnet", "apiserver", "--name", lab, "--listen", listen]
    activator = [sys.executable, "-I", "-S", api_activator.__file__, folder, listen, "0", "--", *server]
    with open(os.path.join(folder, "apiserver.log"), "ab") as log:
        proc = subprocess.Popen(activator, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                close_fds=True)
    _write(os.path.join(folder, "process.json"), {"pid": proc.pid, "start": process_start_time(proc.pid),
                                                  "listen": listen})
    return proc.pid


def announce(lab: str, listen: str, port: int) -> None:
    """Called by the server once it listens (or once it took over the activator's socket)."""
    _write(os.path.join(directory(lab), "endpoint.json"),
           {"listen": listen, "port": port, "pid": os.getpid(), "activated": True})


def activated(lab: str) -> bool:
    """Whether the real server runs (False while only the activator listens)."""
    return bool((_read(os.path.join(directory(lab), "endpoint.json")) or {}).get("activated")) and running(lab)


def server_url(lab: str, port: int) -> str:
    """How a client on this machine reaches the server: its address, or loopback when it
    listens on every address."""
    listen = (_read(os.path.join(directory(lab), "endpoint.json")) or {}).get("listen") or DEFAULT_LISTEN
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(listen, listen)
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def endpoint(lab: str, wait: float = 0.0) -> int | None:
    """The port the lab's API server listens on, waiting up to ``wait`` seconds for it."""
    deadline = time.monotonic() + wait
    while True:
        data = _read(os.path.join(directory(lab), "endpoint.json"))
        if data and isinstance(data.get("port"), int) and running(lab):
            return data["port"]
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def recorded_listen(lab: str) -> str:
    """The address the lab's API server was last asked to listen on (``up --api-listen``)."""
    listen = (_read(os.path.join(directory(lab), "process.json")) or {}).get("listen")
    return listen if isinstance(listen, str) and listen else DEFAULT_LISTEN


def running(lab: str) -> bool:
    data = _read(os.path.join(directory(lab), "process.json")) or {}
    return is_same_process(data.get("pid"), data.get("start"))


def stop(lab: str) -> int | None:
    """End the lab's API server if it runs; returns its PID when it did."""
    data = _read(os.path.join(directory(lab), "process.json")) or {}
    pid, started = data.get("pid"), data.get("start")
    return pid if end_recorded(pid, started) else None
