"""The endpoints of the reachability matrix: a socket pair per target Pod, served by a worker.

Mirrors the e2e netexec endpoint (``agnhost netexec``) every Granular Check talks to: UDP 8081
and TCP 8083 in each target Pod's namespace (another pair when a workload already serves one
of those, as e2e's own test Pods never do), answering with the Pod's own name and recording
the client address it saw (what the NoSNAT check compares). Deviation: the sockets are opened
once in each namespace by one of the matrix's worker processes, which serves them with epoll
beside its clients. A UDP answer is "NAME|" followed by the request (the pair's number); a
TCP endpoint writes its name and closes at once with a reset (SO_LINGER 0 on the listener,
inherited by every accepted connection), which saves the FIN exchange: the name is already in
the client's receive queue when the reset arrives behind it.
"""

from __future__ import annotations

import os
import socket
import struct

from podnet.probes.matrix_job import Report, Shared

UDP_PORT = 8081
TCP_PORT = 8083
# When a workload's container already serves one of netexec's ports, the next pair is used.
PORT_PAIRS = ((UDP_PORT, TCP_PORT), (9081, 9083), (18081, 18083), (28081, 28083))
RECEIVE_BUFFER = 4 << 20
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux's number; Python does not name it
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


def free_ports(declared: set[int]) -> tuple[int, int]:
    """The first (UDP, TCP) pair no target Pod's container declares (in either protocol)."""
    for pair in PORT_PAIRS:
        if not declared & set(pair):
            return pair
    return PORT_PAIRS[-1]


def big_receive_buffer(sock: socket.socket) -> None:
    """A receive queue that holds a burst of the whole matrix (SO_RCVBUFFORCE as root: the
    socket's own buffer, no sysctl changed; SO_RCVBUF up to rmem_max otherwise)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


def listen(udp_port: int = UDP_PORT, tcp_port: int = TCP_PORT) -> tuple[socket.socket, socket.socket]:
    """The endpoint's two sockets, opened in the current namespace."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
    try:
        big_receive_buffer(udp)
        udp.bind(("0.0.0.0", udp_port))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    except OSError:
        udp.close()
        raise
    try:
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        tcp.bind(("0.0.0.0", tcp_port))
        tcp.listen(4096)
    except OSError:
        udp.close()
        tcp.close()
        raise
    return udp, tcp


class Endpoints:
    """The endpoints of the targets a worker serves (every ``workers``-th one)."""

    def __init__(self, worker):
        self.worker = worker
        self.job = worker.job
        self.shared: Shared = worker.shared
        self.report: Report = worker.report
        self.sockets: list[socket.socket] = []

    def open(self) -> None:
        job, w = self.job, self.worker.w
        ports = (job.ports["udp"], job.ports["tcp"])
        for t in range(w, len(job.target_ips), job.workers):
            try:
                udp, tcp = self.worker.spaces.run_in(job.target_netns[t], lambda: listen(*ports))
            except OSError as exc:
                self.shared.failed[t] = 1
                self.report.listen_errors[t] = exc.strerror or str(exc)
                continue
            self.sockets += [udp, tcp]
            self.worker.watch(udp, self._udp(t, udp))
            self.worker.watch(tcp, self._tcp(t, tcp))

    def _udp(self, t: int, sock: socket.socket):
        prefix = self.job.target_names[t] + b"|"
        seen, pairs, address_id = self.shared.seen, len(self.job.src), self.worker.address_id
        recvfrom, sendto = sock.recvfrom, sock.sendto

        def serve(_fd: int) -> None:
            while True:
                try:
                    data, peer = recvfrom(64)
                except (BlockingIOError, InterruptedError):
                    return
                try:
                    sendto(prefix + data, peer)  # "NAME|pair"
                except OSError:
                    pass
                try:
                    k = int(data)
                except ValueError:
                    continue  # not the matrix's: answered all the same, as netexec would
                if 0 <= k < pairs and not seen[k]:
                    seen[k] = address_id(peer[0])

        return serve

    def _tcp(self, t: int, sock: socket.socket):
        name, accept = self.job.target_names[t], sock._accept  # the fd alone: no socket object per client
        records, address_id = self.report.tcp_seen, self.worker.address_id

        def serve(_fd: int) -> None:
            while True:
                try:
                    fd, peer = accept()
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    return  # e.g. out of descriptors: the connection waits in the queue
                try:
                    os.write(fd, name)
                except OSError:
                    pass
                os.close(fd)  # a reset: the listener's SO_LINGER 0 is inherited
                # The client is known by the address and port it came from.
                records.extend((t, address_id(peer[0]), peer[1]))

        return serve
