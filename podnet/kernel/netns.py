"""Named network namespaces, made and entered without leaving the main thread.

Mirrors what ``ip netns add/del`` and a container runtime's sandbox creation do: a new
network namespace bind-mounted at ``/run/netns/<name>`` so ``ip netns exec <name>`` finds
it. Deviation: after the first namespace (made by ``ip netns add``, which also prepares
``/run/netns`` as a shared mount), namespaces are made in-process by one worker thread that
``unshare``s, bind-mounts and ``setns``-es back, because forking ``ip`` per Pod costs ms.
Netlink sockets opened by that thread while it is inside a namespace stay bound to it: that
is how podnet talks to a thousand namespaces from one process. The main thread never
changes namespace.
"""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

from podnet.core.errors import KernelError

NETNS_RUN_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
COMMAND_TIMEOUT = 30

T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def netns_path(name: str) -> str:
    return os.path.join(NETNS_RUN_DIR, name)


def exists(name: str) -> bool:
    return os.path.exists(netns_path(name))


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise KernelError(f"{what}: {os.strerror(err)}")


def _setns(fd: int, what: str) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), f"could not enter {what}")


class NetnsWorker:
    """One thread that does everything that needs to be inside another namespace."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="podnet-netns")
        self._home_fd: int | None = None
        self._pool.submit(self._remember_home).result()

    def _remember_home(self) -> None:
        self._home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def _go_home(self) -> None:
        assert self._home_fd is not None
        _setns(self._home_fd, "the original network namespace")

    def run_in(self, name: str, func: Callable[[], T]) -> T:
        """Run ``func`` inside namespace ``name`` on the worker thread; return its result."""
        return self._pool.submit(self._run_in, name, func).result()

    def _run_in(self, name: str, func: Callable[[], T]) -> T:
        try:
            fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise KernelError(f"network namespace {name} does not exist") from None
        try:
            _setns(fd, f"network namespace {name}")
        finally:
            os.close(fd)
        try:
            return func()
        finally:
            self._go_home()

    def create(self, name: str, then: Callable[[], T] | None = None) -> T | None:
        """Create namespace ``name``; run ``then`` inside it (e.g. to open a socket there)."""
        return self.create_soon(name, then).result()

    def create_soon(self, name: str, then: Callable[[], T] | None = None) -> "Future[T | None]":
        """Queue the creation of ``name``; the caller goes on (the kernel's namespace setup
        then overlaps with the caller's CNI work on the other core)."""
        return self._pool.submit(self._create, name, then)

    def _create(self, name: str, then: Callable[[], T] | None) -> T | None:
        path = netns_path(name)
        if not os.path.isdir(NETNS_RUN_DIR) or not _is_prepared():
            _ip_netns_add(name)
            return self._run_in(name, then) if then else None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0)
        except FileExistsError:
            raise KernelError(f"network namespace {name} already exists") from None
        os.close(fd)
        try:
            _check(_libc.unshare(CLONE_NEWNET), f"could not create network namespace {name}")
        except KernelError:
            os.unlink(path)
            raise
        try:
            _check(
                _libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", MS_BIND, None),
                f"could not bind-mount network namespace {name}",
            )
            return then() if then else None
        except BaseException:
            _libc.umount2(path.encode(), MNT_DETACH)
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            raise
        finally:
            self._go_home()

    def close(self) -> None:
        """Finish the task in progress, drop the queued ones (their names are in the lab's
        intent list, so teardown still removes anything made)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._home_fd is not None:
            os.close(self._home_fd)
            self._home_fd = None


_prepared = False


def _is_prepared() -> bool:
    """True once ``ip netns add`` has made /run/netns a shared mount in this process's life."""
    global _prepared
    if _prepared:
        return True
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 4 and fields[4] == NETNS_RUN_DIR and "shared:" in line:
                    _prepared = True
                    return True
    except OSError:
        pass
    return False


def _ip_netns_add(name: str) -> None:
    result = subprocess.run(
        ["ip", "netns", "add", name], capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )
    if result.returncode != 0:
        raise KernelError(f"could not create network namespace {name}: {result.stderr.strip()}")


def delete(name: str) -> bool:
    """Unmount and remove ``/run/netns/<name>``; return False if it was already gone."""
    path = netns_path(name)
    if not os.path.lexists(path):
        return False
    if _libc.umount2(path.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise KernelError(f"could not unmount network namespace {name}: {os.strerror(err)}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def inode(name: str) -> int | None:
    try:
        return os.stat(netns_path(name)).st_ino
    except FileNotFoundError:
        return None


def pids_in(inodes: Iterable[int]) -> dict[int, int]:
    """PIDs whose network namespace is one of ``inodes``: {pid: inode}. Found by namespace,
    never by process name."""
    wanted = set(inodes)
    found: dict[int, int] = {}
    if not wanted:
        return found
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            link = os.readlink(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        # "net:[4026532281]"
        try:
            ino = int(link[5:-1])
        except ValueError:
            continue
        if ino in wanted:
            found[int(entry)] = ino
    return found


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: the state first, the start time 20th."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            data = handle.read()
    except OSError:
        return None
    return data.rsplit(")", 1)[1].split()


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat: with the PID it names one process for good."""
    fields = _stat_fields(pid)
    return fields[19] if fields else None


def is_same_process(pid: int | None, start: str | None) -> bool:
    """The process recorded as (``pid``, ``start``) still runs. One that has exited but not yet
    been waited for (a zombie, until its parent or init reaps it) has ended."""
    if pid is None or start is None:
        return False
    fields = _stat_fields(pid)
    return bool(fields) and fields[19] == start and fields[0] not in ("Z", "X")


# Bind-mount a Pod's resolv.conf in a private mount namespace, then enter its network namespace.
# The paths and the command are the script's arguments, never part of its text.
_WITH_RESOLV = 'mount --bind "$1" /etc/resolv.conf && net="$2" && shift 2 && exec nsenter --net="$net" -- "$@"'


def enter_argv(name: str, argv: list[str], resolv_conf: str | None = None) -> list[str]:
    """The command line that runs ``argv`` inside namespace ``name`` (``nsenter --net``), with
    ``resolv_conf`` seen as /etc/resolv.conf (as the kubelet gives a Pod its own) when given."""
    if resolv_conf and os.path.exists(resolv_conf) and os.path.exists("/etc/resolv.conf"):
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _WITH_RESOLV, "sh",
                resolv_conf, netns_path(name), *argv]
    return ["nsenter", f"--net={netns_path(name)}", "--", *argv]
