"""The lab's Kubernetes API server: HTTPS on loopback, a bearer token, discovery, the REST
verbs on the lab's objects, watches, logs and exec.

Mirrors kube-apiserver as kubectl meets it: every request but ``/version``'s health checks
needs ``Authorization: Bearer <token>`` (401 Unauthorized otherwise), discovery answers
``/api`` and ``/apis``, errors are Status objects, and the resource paths follow
:mod:`podnet.web.kubeapi.paths`. Built on aiohttp, which keeps the connection after an
``Upgrade`` (exec's WebSocket and SPDY streams). One process per lab, started with the lab
and ended by PID with it; it serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import hmac
import signal
import socket
import ssl
from typing import Callable

from aiohttp import web

from podnet.web.kubeapi import openapi, reads, resources
from podnet.web.kubeapi.paths import UnknownPath, parse
from podnet.web.kubeapi.selectors import status
from podnet.web.kubeapi.store import Store
from podnet.web.kubeapi.tls import Credentials

UNAUTHORIZED = status(401, "Unauthorized", "Unauthorized")


class ApiServer:
    def __init__(self, lab: str, creds: Credentials, host: str, port: int):
        self.lab, self.creds, self.host, self.port = lab, creds, host, port
        self.token = creds.token()
        self.store = Store(lab)
        self.writes = None  # set by podnet.web.kubeapi.writes when mounted
        self.stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=8 * 1024 * 1024)
        app.add_routes([
            web.get("/version", self._version), web.get("/healthz", self._ok), web.get("/livez", self._ok),
            web.get("/readyz", self._ok), web.get("/api", self._api), web.get("/api/v1", self._core),
            web.get("/apis", self._apis), web.get("/apis/{group}", self._group),
            web.get("/apis/{group}/v1", self._group_version),
            web.get("/openapi/v2", self._openapi_v2), web.get("/openapi/v3", self._openapi_v3),
            web.get("/openapi/v3/{path:.*}", self._openapi_v3_doc),
            web.route("*", "/{tail:.*}", self._rest),
        ])
        app.on_startup.append(self._start)
        app.on_shutdown.append(self._stop)
        return app

    async def _start(self, _app) -> None:
        loop = asyncio.get_running_loop()
        self._tasks += [loop.create_task(self.store.run()), loop.create_task(self._watchdog())]

    async def _watchdog(self) -> None:
        """A server whose lab is gone (torn down without it, say) ends itself."""
        gone_since = None
        while True:
            await asyncio.sleep(0.5)
            if not self.store.gone:
                gone_since = None
            elif gone_since is None:
                gone_since = asyncio.get_running_loop().time()
            elif asyncio.get_running_loop().time() - gone_since > 3 and self.stop is not None:
                self.stop.set()

    async def _stop(self, _app) -> None:
        for task in self._tasks:
            task.cancel()

    @web.middleware
    async def _auth(self, request: web.Request, handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "")
        offered = given[7:].strip().encode("utf-8", "surrogateescape")  # any bytes a client sends
        if not (given.startswith("Bearer ") and hmac.compare_digest(offered, self.token.encode())):
            return reads.respond(UNAUTHORIZED, 401)
        return await handler(request)

    # -- discovery ---------------------------------------------------------------------------------

    async def _ok(self, _request) -> web.Response:
        return web.Response(text="ok")

    async def _version(self, _request) -> web.Response:
        return reads.respond(resources.SERVER_VERSION)

    async def _api(self, _request) -> web.Response:
        return reads.respond(resources.api_versions(f"{self.host}:{self.port}"))

    async def _core(self, _request) -> web.Response:
        return reads.respond(resources.resource_list(""))

    async def _apis(self, _request) -> web.Response:
        return reads.respond(resources.group_list())

    async def _group(self, request: web.Request) -> web.Response:
        found = resources.group(request.match_info["group"])
        return reads.respond(found) if found else self._not_found(request)

    async def _group_version(self, request: web.Request) -> web.Response:
        found = resources.resource_list(request.match_info["group"])
        return reads.respond(found) if found else self._not_found(request)

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        if "protobuf" in request.headers.get("Accept", ""):
            return web.Response(body=openapi.v2_protobuf(), content_type="application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        return reads.respond(openapi.v2_json())

    async def _openapi_v3(self, _request) -> web.Response:
        return reads.respond(openapi.v3_index())

    async def _openapi_v3_doc(self, request: web.Request) -> web.Response:
        doc = openapi.v3_document(request.match_info["path"])
        return reads.respond(doc) if doc is not None else self._not_found(request)

    def _not_found(self, _request) -> web.Response:
        return reads.respond(status(404, "NotFound", "the server could not find the requested resource"), 404)

    # -- resources ---------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        try:
            target = parse(request.path)
        except UnknownPath:
            return self._not_found(request)
        if request.method == "GET":
            if target.sub is not None:
                return await self._subresource(request, target)
            if request.query.get("watch") in ("1", "true"):
                return await reads.watch(request, self.store, target)
            if target.name is None:
                return reads.get_list(request, self.store, target)
            return reads.get_one(request, self.store, target)
        if self.writes is not None:
            return await self.writes.handle(request, target)
        return reads.respond(status(405, "MethodNotAllowed", "the server does not allow this method on the "
                                    "requested resource"), 405)

    async def _subresource(self, request: web.Request, target) -> web.StreamResponse:
        if self.writes is not None:
            return await self.writes.subresource(request, target)
        return self._not_found(request)


def serve(lab: str, creds: Credentials, host: str, port: int, ready: Callable[[int], None],
          mount: Callable[[ApiServer], None] | None = None, fd: int | None = None) -> None:
    """Serve until SIGTERM; on ``host``:``port``, or on the listening socket ``fd`` when
    one is handed over (socket activation, :mod:`podnet.lab.api_activator`)."""
    asyncio.run(_serve(lab, creds, host, port, ready, mount, fd))


async def _serve(lab: str, creds: Credentials, host: str, port: int, ready, mount, fd: int | None) -> None:
    server = ApiServer(lab, creds, host, port)
    if mount is not None:
        mount(server)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(creds.cert, creds.key)
    runner = web.AppRunner(server.app(), access_log=None, handle_signals=False, shutdown_timeout=0.25)
    await runner.setup()
    try:
        if fd is None:
            site = web.TCPSite(runner, host, port, ssl_context=context, reuse_address=True)
        else:
            site = web.SockSite(runner, socket.socket(fileno=fd), ssl_context=context)
        await site.start()
        server.port = site._server.sockets[0].getsockname()[1]
        stop = server.stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        ready(server.port)
        await stop.wait()
        if server.writes is not None:
            server.writes.close()
    finally:
        await runner.cleanup()
