"""The lab's API server socket, listening before the server exists: socket activation.

Mirrors systemd's socket activation (a ``.socket`` unit holding the port and starting the
service on the first connection, as some distributions ship for kube-apiserver) and kind's
promise that the API answers once the cluster is up: this small process binds the lab's
API address at ``up``, writes ``endpoint.json`` at once, and on the first connection
replaces itself (``execv``: same PID, same start time, so the lab's records of it stay
true) with the real API server, which adopts the listening socket; the connection that
woke it waits in the socket's backlog and is answered by the real server.
Deviation: the real server's first answer comes about a second late (its start-up); an
idle lab's API costs a few MB instead of forty (thirty labs on one machine). Standard
library only: it is run by path with ``python -I -S``, so no site-packages are loaded.

Usage: ``python -I -S api_activator.py FOLDER LISTEN PORT -- SERVER-ARGV...``; the server
is started with ``--fd N`` appended (N: the listening socket).
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys

BACKLOG = 128


def bind(listen: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in listen else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if listen == "::" else 1)
    sock.bind((listen, port))
    sock.listen(BACKLOG)
    return sock


def announce(folder: str, listen: str, port: int) -> None:
    """``endpoint.json``, written whole (a reader never sees half of it)."""
    path = os.path.join(folder, "endpoint.json")
    with open(path + ".tmp", "w", encoding="utf-8") as out:
        json.dump({"listen": listen, "port": port, "pid": os.getpid(), "activated": False}, out)
    os.rename(path + ".tmp", path)


def main(argv: list[str]) -> int:
    if len(argv) < 5 or argv[3] != "--":
        sys.stderr.write("usage: api_activator.py FOLDER LISTEN PORT -- SERVER-ARGV...\n")
        return 2
    folder, listen, port, server = argv[0], argv[1], int(argv[2]), argv[4:]
    sock = bind(listen, port)
    announce(folder, listen, sock.getsockname()[1])
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    while not poller.poll():
        pass  # SIGTERM (the lab's teardown) ends this process where it waits
    os.set_inheritable(sock.fileno(), True)
    os.execv(server[0], server + ["--fd", str(sock.fileno())])
    return 1  # not reached: execv returns only by raising


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
