"""``kubectl exec`` over SPDY/3.1, the streaming protocol kubectl 1.20 (and every kubectl as a
fallback) speaks: the server side of one connection, for one command.

Mirrors the kubelet's remote-command server (k8s.io/apimachinery's httpstream/spdy with
moby/spdystream): after ``101 Switching Protocols`` (``Upgrade: SPDY/3.1``,
``X-Stream-Protocol-Version: v4.channel.k8s.io``) the client opens one stream per channel
with a ``SYN_STREAM`` whose ``streamtype`` header says which (error, stdin, stdout, stderr,
resize); each is answered with a ``SYN_REPLY``; stdin arrives in DATA frames, stdout and
stderr go back in DATA frames, and the exit Status goes on the error stream before every
stream is finished (FIN). Frames follow the SPDY/3 draft: 8-byte headers, header blocks as
counted name/value pairs, zlib-compressed with the draft's dictionary, one compression
context per direction. PING is answered; SETTINGS and WINDOW_UPDATE are read and ignored
(outputs here are small).
"""

from __future__ import annotations

import asyncio
import json
import struct
import zlib

from aiohttp import web

from podnet.web.kubeapi import terminal
from podnet.web.kubeapi.reads import respond
from podnet.web.kubeapi.selectors import status

PROTOCOL = "v4.channel.k8s.io"
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01

# The SPDY/3 header-compression dictionary (draft-mbelshe-httpbis-spdy-00, 2.6.10.1): these
# words, each after its length as 4 big-endian bytes, then the text below as it is.
_WORDS = ("options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
          "age allow authorization cache-control connection content-base content-encoding content-language "
          "content-length content-location content-md5 content-range content-type date etag expect expires from "
          "host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
          "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
          "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status").split() + [
    "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


class Session:
    """One SPDY connection: frames in through ``feed_data``, frames out through the transport."""

    def __init__(self, transport: asyncio.Transport):
        self.transport = transport
        self.buffer = b""
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                        zdict=DICTIONARY)
        self.streams: dict[str, int] = {}  # streamtype -> stream id
        self.opened = asyncio.Event()
        self.stdin: asyncio.Queue = asyncio.Queue()
        self.resizes: asyncio.Queue = asyncio.Queue()
        self.closed = asyncio.Event()
        self.expected: set[str] = set()

    # -- the aiohttp payload-parser interface (set_parser) ------------------------------------------

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.buffer += data
        while len(self.buffer) >= 8:
            length = int.from_bytes(self.buffer[5:8], "big")
            if len(self.buffer) < 8 + length:
                break
            frame, self.buffer = self.buffer[:8 + length], self.buffer[8 + length:]
            self._frame(frame)
        return False, b""

    def feed_eof(self) -> None:
        self.closed.set()
        self.stdin.put_nowait(None)

    # -- frames in -----------------------------------------------------------------------------------

    def _frame(self, frame: bytes) -> None:
        flags, payload = frame[4], frame[8:]
        if not frame[0] & 0x80:  # a data frame
            stream = int.from_bytes(frame[0:4], "big") & 0x7FFFFFFF
            if stream == self.streams.get("stdin"):
                if payload:
                    self.stdin.put_nowait(payload)
                if flags & FLAG_FIN:
                    self.stdin.put_nowait(None)
            elif stream == self.streams.get("resize") and payload:
                self.resizes.put_nowait(payload)
            return
        kind = int.from_bytes(frame[2:4], "big")
        if kind == SYN_STREAM:
            stream = int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF
            headers = self._headers(payload[10:])
            self.streams[headers.get("streamtype", "")] = stream
            self._control(SYN_REPLY, 0, struct.pack(">I", stream) + self._header_block({}))
            if self.expected <= set(self.streams):
                self.opened.set()
        elif kind == PING:
            self._control(PING, 0, payload[:4])
        elif kind == RST_STREAM and int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF != self.streams.get("error"):
            if int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF == self.streams.get("stdin"):
                self.stdin.put_nowait(None)  # stdin given up: its end, and the command goes on
        elif kind in (GOAWAY, RST_STREAM):  # the whole session, or the stream the exit status goes on
            self.closed.set()
            self.stdin.put_nowait(None)

    def _headers(self, block: bytes) -> dict[str, str]:
        data = self.inflate.decompress(block)
        count, offset, out = int.from_bytes(data[0:4], "big"), 4, {}
        for _ in range(min(count, len(data) // 8)):  # each pair takes 8 bytes at least: no client-sized loop
            n = int.from_bytes(data[offset:offset + 4], "big")
            name = data[offset + 4:offset + 4 + n].decode()
            offset += 4 + n
            n = int.from_bytes(data[offset:offset + 4], "big")
            out[name.lower()] = data[offset + 4:offset + 4 + n].decode()
            offset += 4 + n
        return out

    # -- frames out ----------------------------------------------------------------------------------

    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.encode() + struct.pack(">I", len(value)) + value.encode()
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def _control(self, kind: int, flags: int, payload: bytes) -> None:
        header = struct.pack(">HHI", 0x8000 | 3, kind, (flags << 24) | len(payload))
        self.transport.write(header + payload)

    def data(self, streamtype: str, data: bytes, fin: bool = False) -> None:
        stream = self.streams.get(streamtype)
        if stream is None or self.transport.is_closing():
            return
        for start in range(0, max(len(data), 1), 16384):
            chunk = data[start:start + 16384]
            last = fin and start + 16384 >= len(data)
            self.transport.write(struct.pack(">II", stream, ((FLAG_FIN if last else 0) << 24) | len(chunk)) + chunk)


async def exec_over_spdy(request: web.Request, argv: list[str], command: list[str]) -> web.StreamResponse:
    offered = [p.strip() for p in request.headers.get("X-Stream-Protocol-Version", "").split(",")]
    offered += request.headers.getall("X-Stream-Protocol-Version", [])
    if PROTOCOL not in {p.strip() for o in offered for p in o.split(",")}:
        return respond(status(400, "BadRequest", f"exec needs the {PROTOCOL} stream protocol"), 400)
    response = web.StreamResponse(status=101, headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                                        "X-Stream-Protocol-Version": PROTOCOL})
    await response.prepare(request)
    session = Session(request.transport)
    tty = terminal.flag(request, "tty")
    wants = {name for name in ("stdin", "stdout", "stderr") if terminal.flag(request, name)}
    session.expected = {"error"} | (wants - {"stderr"} if tty else wants)  # a terminal has no stderr stream
    request.protocol.set_parser(session)
    try:
        await asyncio.wait_for(session.opened.wait(), 10)
    except asyncio.TimeoutError:
        return response
    proc = await terminal.launch(argv, "stdin" in wants, tty)

    async def send(channel: int, data: bytes) -> None:
        session.data("stdout" if channel == terminal.STDOUT else "stderr", data)

    async def feed() -> None:
        while (chunk := await session.stdin.get()) is not None:
            await proc.write(chunk)
        proc.close_stdin()

    async def resize() -> None:
        while True:
            proc.resize(await session.resizes.get())

    loop = asyncio.get_running_loop()
    helpers = [loop.create_task(resize())] + ([loop.create_task(feed())] if "stdin" in wants else [])
    try:
        code = await terminal.run(proc, send, session.closed.wait())  # None: the client went away
    finally:
        for helper in helpers:
            helper.cancel()
    if code is None:
        request.transport.close()
        return response
    if code != 0:
        session.data("error", json.dumps(terminal.exit_status(code, command)).encode())
    for name in ("stdout", "stderr", "error"):
        session.data(name, b"", fin=True)
    try:
        await asyncio.wait_for(session.closed.wait(), 5)
    except asyncio.TimeoutError:
        pass
    request.transport.close()
    return response
