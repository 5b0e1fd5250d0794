"""Pod IPs from a node's slice, with host-local's semantics and on-disk records.

Mirrors the CNI reference ``host-local`` IPAM plugin (plugins/ipam/host-local): the range
runs from the first address after the network to the last before the broadcast, the gateway
(first address) is skipped, allocation continues after the last reserved address and wraps,
each lease is a file named after the IP holding the container ID and interface name, and an
exhausted range fails with "no IP addresses available in range set: A-B".
Deviation: a single range per node and no IPv6; used by podnet's built-in plugin so that its
records look exactly like those the reference plugin leaves in the same data directory. The
range arithmetic (search order, capacity) is pure and lives in :mod:`podnet.core.cidr`.
"""

from __future__ import annotations

import fcntl
import os
from ipaddress import IPv4Address

from podnet.core.cidr import PodRange

LAST_RESERVED = "last_reserved_ip.0"


class RangeExhausted(Exception):
    def __init__(self, first: IPv4Address, last: IPv4Address):
        super().__init__(
            f"failed to allocate for range 0: no IP addresses available in range set: {first}-{last}"
        )


class HostLocalStore:
    """host-local's directory layout: one file per leased IP, plus the last reserved IP."""

    def __init__(self, data_dir: str, pod_range: PodRange):
        self.data_dir = data_dir
        self.range = pod_range

    def allocate(self, container_id: str, ifname: str) -> IPv4Address:
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        with self._locked():
            # A runtime sends ADD once per sandbox ID (a retry comes with a new ID), so the
            # lease search of host-local's idempotent re-ADD is skipped here: it is O(n).
            last = self._read_last()
            for candidate in self.range.candidates(last):
                path = os.path.join(self.data_dir, str(candidate))
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                except FileExistsError:
                    continue
                with os.fdopen(fd, "w") as handle:
                    handle.write(f"{container_id}\r\n{ifname}")
                self._write_last(candidate)
                return candidate
        raise RangeExhausted(self.range.first, self.range.last)

    def release(self, container_id: str, ifname: str) -> IPv4Address | None:
        """Release the lease of this container; absent leases are fine (DEL is idempotent)."""
        if not os.path.isdir(self.data_dir):
            return None
        with self._locked():
            found = self.lookup(container_id, ifname)
            if found is not None:
                try:
                    os.unlink(os.path.join(self.data_dir, str(found)))
                except FileNotFoundError:
                    pass
            return found

    def lookup(self, container_id: str, ifname: str) -> IPv4Address | None:
        wanted = f"{container_id}\r\n{ifname}"
        for entry in os.listdir(self.data_dir):
            if entry in (LAST_RESERVED, "lock"):
                continue
            try:
                with open(os.path.join(self.data_dir, entry), encoding="utf-8", newline="") as handle:
                    if handle.read().strip() == wanted.strip():
                        return IPv4Address(entry)
            except (OSError, ValueError):
                continue
        return None

    def _read_last(self) -> IPv4Address | None:
        try:
            with open(os.path.join(self.data_dir, LAST_RESERVED), encoding="utf-8") as handle:
                return IPv4Address(handle.read().strip())
        except (OSError, ValueError):
            return None

    def _write_last(self, address: IPv4Address) -> None:
        path = os.path.join(self.data_dir, LAST_RESERVED)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(str(address))

    def _locked(self):
        return _FileLock(os.path.join(self.data_dir, "lock"))


class _FileLock:
    def __init__(self, path: str):
        self.path = path
        self.fd = -1

    def __enter__(self) -> "_FileLock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
