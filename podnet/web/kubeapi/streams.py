"""``kubectl logs`` and ``kubectl exec`` against the lab's API: a Pod's container output, and
a command run in the Pod's network namespace with its stdin, stdout and stderr streamed.

Mirrors the kubelet's streaming endpoints as kube-apiserver proxies them: ``pods/log`` (plain
text, ``tailLines``, ``follow``) and ``pods/exec`` (``?command=...&stdin&stdout&stderr&tty``)
over the remote-command protocol ``v4.channel.k8s.io`` (``v5`` adds closing stdin), carried
by a WebSocket (what newer kubectl tries first; each binary message starts with its
channel: 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 resize, 255 close) or by SPDY/3.1
(what kubectl 1.20 speaks; :mod:`podnet.web.kubeapi.spdy`). The command runs as podnet exec
runs it (``nsenter --net``, the Pod's resolv.conf); its exit code comes back as the Status
kubectl turns into its own exit code. Deviation: a TTY is refused (no terminal is allocated).
"""

from __future__ import annotations

import asyncio
import json
import os

from aiohttp import WSMsgType, web

from podnet.core.model import RUNNING
from podnet.core.naming import netns_name
from podnet.k8s.kubelet.containers import log_path
from podnet.kernel import state_file
from podnet.kernel.netns import enter_argv
from podnet.web.kubeapi import spdy, terminal
from podnet.web.kubeapi.terminal import exit_status, flag
from podnet.web.kubeapi.paths import Target
from podnet.web.kubeapi.reads import client_gone, respond
from podnet.web.kubeapi.selectors import not_found, status

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


async def logs(request: web.Request, server, target: Target) -> web.StreamResponse:
    pod = server.store.get("pods", target.namespace or "", target.name)
    if pod is None:
        return respond(not_found("pods", target.name), 404)
    path = log_path(state_file.LabPaths(server.lab).root, target.name)
    tail = request.query.get("tailLines")
    follow = request.query.get("follow") in ("true", "1")
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    offset = 0
    if os.path.exists(path):
        with open(path, "rb") as handle:
            data = handle.read()
        offset = len(data)
        lines = data.splitlines(keepends=True)
        if tail is not None and tail.isdigit():
            lines = lines[-int(tail):] if int(tail) else []
        await response.write(b"".join(lines))
    while follow and not client_gone(request) and server.store.get("pods", target.namespace or "", target.name):
        await asyncio.sleep(0.2)
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except OSError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            try:
                await response.write(chunk)
            except ConnectionResetError:
                break
    return response


def command_of(request: web.Request, server, target: Target) -> tuple[list[str] | None, web.Response | None]:
    """The argv to run for an exec request, or the Status refusing it."""
    pod = server.store.get("pods", target.namespace or "", target.name)
    if pod is None:
        return None, respond(not_found("pods", target.name), 404)
    command = request.query.getall("command", [])
    if not command:
        return None, respond(status(400, "BadRequest", "you must specify at least 1 command"), 400)
    if pod["status"]["phase"] != RUNNING:
        return None, respond(status(400, "BadRequest", f"pod {target.name} is not running"), 400)
    resolv = state_file.LabPaths(server.lab).resolv_conf(target.namespace or "default")
    return enter_argv(netns_name(server.lab, target.name), command, resolv), None


async def exec_pod(request: web.Request, server, target: Target) -> web.StreamResponse:
    argv, refusal = command_of(request, server, target)
    if refusal is not None:
        return refusal
    upgrade = request.headers.get("Upgrade", "").lower()
    if upgrade == "websocket":
        return await _websocket(request, argv, request.query.getall("command"))
    if upgrade.startswith("spdy/3.1"):
        return await spdy.exec_over_spdy(request, argv, request.query.getall("command"))
    return respond(status(400, "BadRequest", "exec needs a connection upgrade (websocket or SPDY/3.1)"), 400)


async def _websocket(request: web.Request, argv: list[str], command: list[str]) -> web.StreamResponse:
    ws = web.WebSocketResponse(protocols=PROTOCOLS, heartbeat=None)
    await ws.prepare(request)
    proc = await terminal.launch(argv, flag(request, "stdin"), flag(request, "tty"))

    async def send(channel: int, data: bytes) -> None:
        await ws.send_bytes(bytes([channel]) + data)

    async def feed() -> None:
        async for message in ws:
            if message.type != WSMsgType.BINARY or not message.data:
                continue
            channel, data = message.data[0], message.data[1:]
            if channel == STDIN:
                await proc.write(data)
            elif channel == RESIZE:
                proc.resize(data)
            elif channel == CLOSE and data[:1] == bytes([STDIN]):
                proc.close_stdin()

    feeder = asyncio.get_running_loop().create_task(feed())  # ends when the client closes
    code = await terminal.run(proc, send, feeder)
    if code is not None:
        await send(ERROR, json.dumps(exit_status(code, command)).encode())
        await ws.close()
    return ws
