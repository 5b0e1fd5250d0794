"""iptables inside a lab namespace: read it with iptables-save, load it with iptables-restore.

Mirrors how kube-proxy, ip-masq-agent and dockerd talk to netfilter: whole tables or chains
at once through ``iptables-restore`` (atomic per table), never rule by rule. Every call runs
the tools inside one of the lab's namespaces with ``nsenter --net``; the machine's own
tables are never read or written. Deviation: none worth naming; this is plumbing.
"""

from __future__ import annotations

import re
import subprocess

from podnet.core.errors import KernelError
from podnet.kernel.netns import netns_path

TIMEOUT = 30
_CHAIN_DECL = re.compile(r"^:(\S+) ")


def _run(netns: str, argv: list[str], stdin: bytes | None = None) -> str:
    try:
        proc = subprocess.run(["nsenter", f"--net={netns_path(netns)}", "--", *argv], input=stdin,
                              capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise KernelError(f"{argv[0]} timed out in {netns}") from None
    except FileNotFoundError:
        raise KernelError("nsenter or iptables is not installed (scripts/install.sh installs them)") from None
    if proc.returncode != 0:
        raise KernelError(f"{argv[0]} failed in {netns}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode(errors="replace")


def save(netns: str, table: str | None = None) -> str:
    return _run(netns, ["iptables-save"] + (["-t", table] if table else []))


def restore(netns: str, text: str, noflush: bool = True) -> None:
    _run(netns, ["iptables-restore", "-w", "5"] + (["--noflush"] if noflush else []), text.encode())


def tables(save_text: str) -> dict[str, list[str]]:
    """iptables-save output split per table: {"nat": [lines...], ...} (comments dropped)."""
    out: dict[str, list[str]] = {}
    current = None
    for line in save_text.splitlines():
        if line.startswith("*"):
            current = line[1:].strip()
            out[current] = []
        elif current and line and not line.startswith("#") and line != "COMMIT":
            out[current].append(line)
    return out


def chains(lines: list[str]) -> set[str]:
    return {m.group(1) for line in lines if (m := _CHAIN_DECL.match(line))}


def has_jump(lines: list[str], chain: str, target: str) -> bool:
    prefix = f"-A {chain} "
    return any(line.startswith(prefix) and line.rstrip().endswith(f"-j {target}") for line in lines)


def rules_in(lines: list[str], chain: str) -> list[str]:
    prefix = f"-A {chain} "
    return [line for line in lines if line.startswith(prefix)]


def drop_counters(netns: str, chain_prefix: str) -> dict[str, int]:
    """Packets each DROP rule of the chains starting with ``chain_prefix`` has dropped in
    ``netns`` (``iptables-save -c`` of the filter table): {chain: packets}."""
    counts: dict[str, int] = {}
    for line in _run(netns, ["iptables-save", "-c", "-t", "filter"]).splitlines():
        if not line.startswith("[") or not line.rstrip().endswith("-j DROP"):
            continue
        packets, _, rule = line[1:].partition(":")
        parts = rule.split()
        if len(parts) > 2 and parts[1] == "-A" and parts[2].startswith(chain_prefix):
            counts[parts[2]] = counts.get(parts[2], 0) + int(packets)
    return counts
