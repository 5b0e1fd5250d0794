"""A snapshot of the host that a lab must leave alone (root-namespace links, routes, rules,
iptables, nft, sysctls) plus what the lab owns outside it (namespaces, /run/podnet, processes in
other namespaces), and the differences between two snapshots, other sessions' labs left out.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Iterable

from tests.support.labs import OUR_LABS
from tests.support.processes import ROOT_NET_INODE, _cmdline, _net_inode_of, alive, netns_inode, netns_list, run, run_dir_listing
from tests.support.registry import other_workers_labs


SYSCTLS = (
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/net/ipv4/conf/all/forwarding",
    "/proc/sys/net/ipv6/conf/all/forwarding",
    "/proc/sys/net/core/rmem_max",
    "/proc/sys/net/core/wmem_max",
    "/proc/sys/net/ipv4/neigh/default/gc_thresh3",
    "/proc/sys/kernel/pty/max",
    "/proc/sys/fs/file-max",
)


# Fields that legitimately change while a lab is up (they are its namespaces, files, processes).
LAB_FIELDS = ("netns", "run_dir", "pids")


def _links() -> list[str]:
    out = run(["ip", "-o", "link"], check=True).stdout
    links = []
    for line in out.splitlines():
        match = re.match(r"\d+:\s+(\S+):\s+<([^>]*)>(.*)", line)
        if not match:
            continue
        name, flags, rest = match.groups()
        extra = " ".join(re.findall(r"\b(?:mtu \d+|master \S+)", rest))
        links.append(f"{name} <{flags}> {extra}")
    return sorted(links)


def _lines(argv: list[str]) -> list[str] | str:
    result = run(argv)
    if result.returncode != 0:
        return f"exit {result.returncode}: {result.stderr.strip()}"
    return [re.sub(r"\s+expires \d+sec", "", line).rstrip() for line in result.stdout.splitlines()]


def _tables(tool: str) -> list[str] | str | None:
    if shutil.which(tool) is None:
        return None
    result = run([tool])
    if result.returncode != 0:
        return f"exit {result.returncode}: {result.stderr.strip()}"
    return [re.sub(r"\[\d+:\d+\]", "[-]", line) for line in result.stdout.splitlines()
            if line.strip() and not line.startswith("#")]


def _sysctls() -> dict[str, str]:
    values = {}
    for path in SYSCTLS:
        try:
            with open(path, encoding="ascii") as handle:
                values[path] = handle.read().strip()
        except OSError as exc:
            values[path] = f"unreadable: {exc.strerror}"
    return values


def _foreign_pids() -> dict[int, int]:
    """{pid: net inode} of processes outside the root network namespace."""
    pids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        ino = _net_inode_of(int(entry))
        if ino is not None and ino != ROOT_NET_INODE:
            pids[int(entry)] = ino
    return pids


def snapshot() -> dict:
    """What a lab must leave alone in the root namespace, plus what it owns outside it."""
    names = sorted(netns_list())
    return {
        "links": _links(),
        "routes4": sorted(_lines(["ip", "-4", "route", "show", "table", "all"])),
        "routes6": sorted(_lines(["ip", "-6", "route", "show", "table", "all"])),
        "rules": _lines(["ip", "rule"]) + _lines(["ip", "-6", "rule"]),
        "iptables": _tables("iptables-save"),
        "ip6tables": _tables("ip6tables-save"),
        "nft": _lines(["nft", "list", "ruleset"]) if shutil.which("nft") else None,
        "sysctls": _sysctls(),
        "netns": names,
        "run_dir": run_dir_listing(),
        "pids": _foreign_pids(),
        # not compared: which inode each named namespace has (to recognise other labs' processes)
        "_netns_inodes": {n: netns_inode(n) for n in names},
    }


def _foreign_labs(*snaps: dict) -> set[str]:
    """Labs present on the machine that this session did not create (e.g. 'bench')."""
    labs = {"bench"} | other_workers_labs()
    for snap in snaps:
        labs |= {p.split(os.sep)[0] for p in snap["run_dir"]}
    return labs - OUR_LABS


def _belongs_to(entry: str, labs: set[str]) -> bool:
    """True if a netns name or a /run/podnet path belongs to one of ``labs``."""
    return any(entry == lab or entry.startswith(lab + "-") or entry.startswith(lab + os.sep) for lab in labs)


def own_view() -> tuple[list[str], list[str]]:
    """``ip netns list`` and the listing of /run/podnet, without other users' labs."""
    names = sorted(netns_list())
    listing = run_dir_listing()
    foreign = _foreign_labs({"run_dir": listing})
    return [n for n in names if not _belongs_to(n, foreign)], [p for p in listing if not _belongs_to(p, foreign)]


def compare_snapshots(before: dict, after: dict, ignore: Iterable[str] = ()) -> list[str]:
    """Differences between two snapshots, as readable strings; other users' labs are skipped."""
    foreign = _foreign_labs(before, after)

    def mine(name: str) -> bool:
        return not _belongs_to(name, foreign)

    foreign_inodes = set()
    for snap in (before, after):
        foreign_inodes |= {ino for n, ino in snap["_netns_inodes"].items() if not mine(n) and ino}
    diffs = []
    for key in before:
        if key.startswith("_") or key in ignore:
            continue
        a, b = before[key], after[key]
        if key in ("netns", "run_dir"):
            a, b = [x for x in a if mine(x)], [x for x in b if mine(x)]
        if key == "pids":
            # a process that belongs to another lab, or that is already gone again, is not ours
            a = {p for p, ino in a.items() if ino not in foreign_inodes}
            b = {p for p, ino in b.items() if ino not in foreign_inodes}
            extra = {p for p in b - a if alive(p)}
            missing = a - b
            if extra or missing:
                diffs.append(f"pids: new {sorted(extra)} {[_cmdline(p) for p in extra]}, gone {sorted(missing)}")
            continue
        if a != b:
            if isinstance(a, list) and isinstance(b, list):
                diffs.append(f"{key}: added {sorted(set(b) - set(a))}, removed {sorted(set(a) - set(b))}")
            elif isinstance(a, dict) and isinstance(b, dict):
                changed = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
                diffs.append(f"{key}: changed {changed}")
            else:
                diffs.append(f"{key}: {a!r} != {b!r}")
    return diffs


def root_iptables_save() -> list[str] | str | None:
    """``iptables-save`` of the root namespace: comment lines dropped, packet counters blanked
    (they move with any traffic of the machine); None if iptables-save is not installed."""
    return _tables("iptables-save")

