"""``podnet web`` as the tests run it: a child process on a free port, its URL, plain HTTP
requests (urllib, no cookies, headers as given) and its event stream read line by line.
The server is ended by its own PID."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from tests.support.processes import PODNET, REPO


class WebServer:
    def __init__(self, lab: str, *args: str):
        self.proc = subprocess.Popen([*PODNET, "web", "--name", lab, "--port", "0", "-o", "json", *args],
                                     cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=15)
            raise AssertionError(f"podnet web did not start: {self.proc.stderr.read()}")
        self.info = json.loads(line)
        self.url = self.info["url"]
        self.port = self.info["port"]

    def request(self, path: str, body: object = None, headers: dict | None = None,
                method: str | None = None) -> tuple[int, dict, bytes]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        req = urllib.request.Request(self.url.rstrip("/") + path, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, path: str, body: object = None, **kwargs) -> tuple[int, dict]:
        status, _headers, data = self.request(path, body, **kwargs)
        return status, json.loads(data)

    def raw_get(self, path: str, host: str) -> bytes:
        """A GET with a Host header of our choosing (urllib would set its own)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def events(self) -> "EventStream":
        return EventStream(self)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


class EventStream:
    """The server-sent events of /api/events, one (type, data) at a time."""

    def __init__(self, server: WebServer):
        parts = urlsplit(server.url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        # HTTP/1.0: the stream comes as it is, without chunked framing, until the server closes it
        self.sock.sendall(f"GET /api/events HTTP/1.0\r\nHost: {parts.netloc}\r\n\r\n".encode())
        self.reader = self.sock.makefile("rb")
        while self.reader.readline() not in (b"\r\n", b""):
            pass  # the response headers

    def next(self, timeout: float = 10.0) -> tuple[str, dict]:
        self.sock.settimeout(timeout)
        kind, data = None, None
        while True:
            line = self.reader.readline()
            if not line:
                raise AssertionError("the event stream ended")
            text = line.decode().rstrip("\r\n")
            if text.startswith("event: "):
                kind = text[7:]
            elif text.startswith("data: "):
                data = json.loads(text[6:])
            elif text == "" and kind and data is not None:
                return kind, data

    def until(self, predicate, timeout: float = 10.0) -> tuple[str, dict, float]:
        """The first event ``predicate(kind, data)`` accepts, and the seconds it took."""
        started = time.monotonic()
        while True:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                raise AssertionError("no such event in time")
            kind, data = self.next(left)
            if predicate(kind, data):
                return kind, data, time.monotonic() - started

    def close(self) -> None:
        self.reader.close()
        self.sock.close()
