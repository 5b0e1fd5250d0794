"""The process limits a big lab meets: open file descriptors.

Mirrors what a kubelet's systemd unit does with ``LimitNOFILE=`` (and containerd's with
``LimitNOFILE=infinity``): a node agent that holds a socket per sandbox needs more
descriptors than a login shell's 1,024. podnet keeps a netlink socket open in every Pod's
namespace (three descriptors each with pyroute2), so ten thousand Pods need about thirty
thousand. Deviation: the limit is raised for podnet's own process only, with ``setrlimit``,
never through a root-namespace sysctl (``fs.nr_open`` and ``fs.file-max`` are read, not
written); a wish above ``fs.nr_open`` is capped there.
"""

from __future__ import annotations

import resource

NR_OPEN = "/proc/sys/fs/nr_open"
DESCRIPTORS_PER_NAMESPACE = 3  # what one pyroute2 0.7 IPRoute holds
SPARE_DESCRIPTORS = 4096  # files, pipes and sockets that are not per namespace


def _nr_open() -> int:
    try:
        with open(NR_OPEN, encoding="ascii") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return 1 << 20


def descriptors_for(namespaces: int) -> int:
    """How many descriptors a process needs to hold a socket in ``namespaces`` namespaces."""
    return namespaces * DESCRIPTORS_PER_NAMESPACE + SPARE_DESCRIPTORS


def ensure_open_files(wanted: int) -> int:
    """Raise this process's RLIMIT_NOFILE to at least ``wanted`` where the kernel allows,
    and return the soft limit in force afterwards. It is never lowered."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft >= wanted:
        return soft
    ceiling = _nr_open()
    target = min(wanted, ceiling)
    new_hard = hard if hard == resource.RLIM_INFINITY or hard >= target else target
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), new_hard))
    except (ValueError, OSError):  # not root and above the hard limit: take what is allowed
        if hard != resource.RLIM_INFINITY and hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
