"""What the page may ask for (with ``--allow-actions``): a probe, a trace, requests, the matrix,
a capture, a lab check. Each is the terminal command itself, run as a child process.

Mirrors nothing in Kubernetes; the rule it keeps is podnet's own: no user string reaches a
shell. A request is checked field by field (names, addresses and filters may not start with
``-``, so none becomes an option), turned into an argument list for ``python -m podnet`` and
run with ``PODNET_ACTIVITY_ORIGIN=web``: the command records its result as it would from a
terminal, and the feed draws it on every open page. Bad input is refused with the field, the
value and what is allowed, before anything runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

from podnet.core.errors import EXIT_BAD_INPUT

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\[\]/-]{0,252}$")  # a Pod, node, address, HOST:PORT, DNS name
FILTER = re.compile(r"^[A-Za-z0-9 ._:/()\[\]!&|<>=-]{0,200}$")
TIMEOUTS = {"probe": 20, "trace": 20, "connect": 60, "matrix": 180, "capture": 90, "check": 300}


class BadRequest(ValueError):
    """One line: the field, the value, what is allowed."""

    def __init__(self, field: str, value: object, allowed: str):
        super().__init__(f"invalid {field}: {value!r}: {allowed}")


@dataclass
class Outcome:
    exit: int
    result: Any
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.exit == 0, "exit": self.exit, "result": self.result, "error": self.error}


def _name(body: dict, field: str, required: bool = True) -> str | None:
    value = body.get(field)
    if value in (None, "") and not required:
        return None
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise BadRequest(field, value, "a Pod, node or address (letters, digits, . _ : / -; not starting with -)")
    return value


def _choice(body: dict, field: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = body.get(field, default)
    if value is None and default is None:
        return None
    if value not in choices:
        raise BadRequest(field, value, "one of " + ", ".join(choices))
    return value


def _number(body: dict, field: str, low: int, high: int, default: int | None) -> int | None:
    value = body.get(field, default)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() \
            or not low <= int(value) <= high:
        raise BadRequest(field, value, f"a whole number from {low} to {high}")
    return int(value)


def command(kind: str, body: object, lab: str, lab_id: str | None, capture_path: str | None) -> list[str]:
    """The podnet arguments of an action; BadRequest if anything is off."""
    if not isinstance(body, dict):
        raise BadRequest("body", body, "a JSON object")
    common = ["--name", lab]
    if kind == "probe":
        argv = ["probe", _name(body, "source"), _name(body, "destination"),
                "-p", _choice(body, "protocol", ("icmp", "udp", "tcp"), "icmp")]
        port = _number(body, "port", 1, 65535, None)
        return argv + (["--port", str(port)] if port else []) + common + ["-o", "json"]
    if kind == "trace":
        protocol = _choice(body, "protocol", ("icmp", "udp", "tcp"), None)
        return ["trace", _name(body, "source"), _name(body, "destination")] + \
            (["-p", protocol] if protocol else []) + common + ["-o", "json"]
    if kind == "connect":
        return ["connect", _name(body, "source"), _name(body, "target"),
                "-p", _choice(body, "protocol", ("tcp", "udp"), "tcp"),
                "-c", str(_number(body, "count", 1, 20, 3))] + common + ["-o", "json"]
    if kind == "matrix":
        protocols = _choice(body, "protocols", ("udp,tcp", "udp", "tcp"), "udp,tcp")
        nodes = body.get("nodes", True)
        if not isinstance(nodes, bool):
            raise BadRequest("nodes", nodes, "true or false")
        return ["probe", "--all", "--protocols", protocols] + ([] if nodes else ["--no-nodes"]) + common + ["-o", "json"]
    if kind == "capture":
        text = body.get("filter", "")
        if not isinstance(text, str) or not FILTER.fullmatch(text) or text.startswith("-"):
            raise BadRequest("filter", text, "a BPF expression of at most 200 characters, like 'tcp port 8080'")
        argv = ["capture", _name(body, "target"), "-c", str(_number(body, "count", 1, 500, 20)),
                "--duration", str(_number(body, "duration", 1, 60, 10)), "-w", capture_path or ""]
        return argv + (["-f", text] if text else []) + common + ["-o", "json"]
    if kind == "check":
        if lab_id is None:
            raise BadRequest("action", kind, f"lab {lab} is not a course lab (podnet lab start NN makes one)")
        return ["lab", "check", lab_id, "-o", "json"]
    raise BadRequest("action", kind, "one of probe, trace, connect, matrix, capture, check")


async def run(kind: str, argv: list[str]) -> Outcome:
    """Run ``python -m podnet ARGV`` and read its JSON; a bad-input exit keeps its one line."""
    env = dict(os.environ, PODNET_ACTIVITY_ORIGIN="web")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "podnet", *argv, env=env,
                                                stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUTS[kind])
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return Outcome(1, None, f"{kind} did not finish within {TIMEOUTS[kind]} s")
    text = out.decode(errors="replace").strip()
    try:
        result = json.loads(text) if text else None
    except ValueError:
        result = None
    lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
    error = lines[-1] if lines and proc.returncode not in (0, 1) else ""
    if proc.returncode == EXIT_BAD_INPUT and not error:
        error = "refused by podnet: bad input"
    return Outcome(proc.returncode if proc.returncode is not None else 1, result, error)
