"""``podnet web``'s server: one page for one running lab, its static files, a live feed of
the figure and the lab's activity (server-sent events), and, if allowed, actions.

Mirrors ``kubectl proxy`` in spirit (a local, read-mostly window on the cluster), built on
aiohttp (the HTTP server, static files and streaming responses; see the README for why). It
listens on loopback unless another address is given; on loopback it only answers requests
naming that address or ``localhost`` in ``Host`` (so a web page elsewhere cannot reach it by
DNS rebinding). Actions are POSTs of JSON, refused with 403 unless the server was started
with ``--allow-actions``, and refused when they come from another origin. Every response
carries a Content-Security-Policy that allows the page's own files only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import json
import os
import re
import shutil
import signal
import tempfile
from typing import Any, Callable

from aiohttp import web

from podnet.web import actions
from podnet.web.feed import Feed
from podnet.web.labpage import course_lab, lab_json

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
KEEPALIVE = 15.0
CAPTURE_NAME = re.compile(r"^capture-[0-9]+\.pcap$")


class Server:
    def __init__(self, lab: str, host: str, port: int, allow_actions: bool):
        self.lab, self.host, self.port, self.allow_actions = lab, host, port, allow_actions
        self.feed = Feed(lab)
        self.captures = tempfile.mkdtemp(prefix="podnet-web-")
        self._numbers = itertools.count(1)
        self._busy = asyncio.Semaphore(2)
        entry = course_lab(lab)
        self.lab_id = entry.id if entry else None

    # -- the application ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.add_routes([
            web.get("/", self._page), web.get("/lab", self._page),
            web.get("/api/info", self._info), web.get("/api/picture", self._picture),
            web.get("/api/activity", self._activity), web.get("/api/lab", self._lab),
            web.get("/api/events", self._events), web.post("/api/actions/{kind}", self._action),
            web.get("/api/captures/{name}", self._capture_file),
            web.static("/static", STATIC, follow_symlinks=False),
        ])
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._hang_up)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, _app) -> None:
        self.feed.start()

    async def _hang_up(self, _app) -> None:
        """Every open event stream ends, so shutting down does not wait for its clients."""
        self.feed.publish({"type": "bye"})

    async def _stop(self, _app) -> None:
        await self.feed.stop()
        shutil.rmtree(self.captures, ignore_errors=True)

    @web.middleware
    async def _guard(self, request: web.Request, handler) -> web.StreamResponse:
        if not self._host_allowed(request.host):
            return web.json_response({"error": f"invalid Host header {request.host!r}: use "
                                      f"http://{self._authority()}/"}, status=421)
        response = await handler(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _host_allowed(self, host: str | None) -> bool:
        if not ipaddress.ip_address(self.host).is_loopback:
            return True  # asked for explicitly: whoever can reach the address may look
        allowed = {self._authority(), f"localhost:{self.port}"}
        return host in allowed

    # -- reading ---------------------------------------------------------------------------------

    async def _page(self, _request: web.Request) -> web.StreamResponse:
        return web.FileResponse(os.path.join(STATIC, "index.html"), headers={"Cache-Control": "no-store"})

    async def _info(self, _request: web.Request) -> web.Response:
        return web.json_response({"lab": self.lab, "allowActions": self.allow_actions, "course": self.lab_id,
                                  "gone": self.feed.gone})

    async def _picture(self, _request: web.Request) -> web.Response:
        return web.json_response(self.feed.picture_message())

    async def _activity(self, _request: web.Request) -> web.Response:
        return web.json_response(self.feed.activity_message())

    async def _lab(self, _request: web.Request) -> web.Response:
        return web.json_response(lab_json(self.lab, self.feed.items))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        queue = self.feed.subscribe()
        try:
            for message in (self.feed.picture_message(), self.feed.activity_message()):
                await _send(response, message)
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except asyncio.TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if message["type"] == "bye":
                    break
                await _send(response, message)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.feed.unsubscribe(queue)
        return response

    async def _capture_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = os.path.join(self.captures, name)
        if not CAPTURE_NAME.fullmatch(name) or not os.path.isfile(path):
            return web.json_response({"error": f"no capture named {name!r}"}, status=404)
        return web.FileResponse(path, headers={"Content-Type": "application/vnd.tcpdump.pcap",
                                               "Content-Disposition": f'attachment; filename="{self.lab}-{name}"'})

    # -- actions ---------------------------------------------------------------------------------

    async def _action(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if not self.allow_actions:
            return web.json_response({"error": "this page is read-only: start podnet web with --allow-actions "
                                      "to run probes, traces, requests, the matrix and captures from it"}, status=403)
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return web.json_response({"error": f"refused: a request from another origin ({origin})"}, status=403)
        if request.content_type != "application/json":
            return web.json_response({"error": "invalid body: send JSON (Content-Type: application/json)"}, status=415)
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "invalid body: not JSON"}, status=400)
        pcap = os.path.join(self.captures, f"capture-{next(self._numbers)}.pcap") if kind == "capture" else None
        try:
            argv = actions.command(kind, body, self.lab, self.lab_id, pcap)
        except actions.BadRequest as exc:
            return web.json_response({"error": str(exc)}, status=400)
        async with self._busy:
            outcome = await actions.run(kind, argv)
        data = outcome.to_json()
        if pcap and os.path.isfile(pcap):
            data["download"] = f"/api/captures/{os.path.basename(pcap)}"
        status = 400 if outcome.exit == 2 else 200
        return web.json_response(data, status=status)


async def _send(response: web.StreamResponse, message: dict[str, Any]) -> None:
    data = json.dumps(message, separators=(",", ":"))
    await response.write(f"event: {message['type']}\ndata: {data}\n\n".encode())


def serve(lab: str, host: str, port: int, allow_actions: bool, ready: Callable[[str, int], None]) -> None:
    """Serve until SIGINT or SIGTERM; ``ready(host, port)`` once listening (port 0: one is picked)."""
    asyncio.run(_serve(lab, host, port, allow_actions, ready))


async def _serve(lab: str, host: str, port: int, allow_actions: bool, ready) -> None:
    server = Server(lab, host, port, allow_actions)
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        server.port = site._server.sockets[0].getsockname()[1]  # the port picked, when 0 was asked for
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        ready(host, server.port)
        await stop.wait()
    finally:
        await runner.cleanup()
        shutil.rmtree(server.captures, ignore_errors=True)
