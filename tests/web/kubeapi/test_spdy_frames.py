"""The SPDY/3.1 framing ``kubectl exec`` speaks to the lab's API (podnet.web.kubeapi.spdy),
driven without a socket: the header-compression dictionary is SPDY/3's (1423 bytes, the same
bytes as moby/spdystream's, which the kubelet and kubectl use), SYN_STREAMs are read (split
anywhere, several in one read, one zlib context for the direction) and answered with
SYN_REPLYs a zlib inflater with that dictionary reads, PING is echoed, stdin arrives from
DATA frames until FIN, GOAWAY and RST_STREAM end the session, and outgoing DATA frames carry
the stream id, the FIN flag and at most 16 KiB each."""

from __future__ import annotations

import hashlib
import struct
import zlib

from podnet.web.kubeapi.spdy import (DICTIONARY, FLAG_FIN, GOAWAY, PING, RST_STREAM, SETTINGS, SYN_REPLY, SYN_STREAM,
                                     Session)

# sha256 of the SPDY/3 dictionary, as moby/spdystream (spdy/dictionary.go) has it
SPDY3_DICTIONARY_SHA256 = "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"


class Transport:
    def __init__(self):
        self.written = b""
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing


class Client:
    """kubectl's side: its own compression context, frames built by hand."""

    def __init__(self):
        self.deflate = zlib.compressobj(zdict=DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)

    def block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers)) + b"".join(
            struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode() for k, v in headers.items())
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_stream(self, stream: int, streamtype: str) -> bytes:
        payload = struct.pack(">IIH", stream, 0, 0) + self.block({"streamtype": streamtype, "Port": "0"})
        return control(SYN_STREAM, 0, payload)

    def headers(self, block: bytes) -> dict[str, str]:
        data = self.inflate.decompress(block)
        count, at, out = struct.unpack(">I", data[:4])[0], 4, {}
        for _ in range(count):
            n = struct.unpack(">I", data[at:at + 4])[0]
            name, at = data[at + 4:at + 4 + n].decode(), at + 4 + n
            n = struct.unpack(">I", data[at:at + 4])[0]
            out[name], at = data[at + 4:at + 4 + n].decode(), at + 4 + n
        return out


def control(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | 3, kind, flags << 24 | len(payload)) + payload


def data_frame(stream: int, payload: bytes, flags: int = 0) -> bytes:
    return struct.pack(">II", stream, flags << 24 | len(payload)) + payload


def frames(raw: bytes) -> list[tuple]:
    """("control", type, flags, payload) or ("data", stream, flags, payload)."""
    out, at = [], 0
    while at < len(raw):
        first, second = struct.unpack(">II", raw[at:at + 8])
        length, flags = second & 0xFFFFFF, second >> 24
        payload = raw[at + 8:at + 8 + length]
        assert len(payload) == length
        if first & 0x80000000:
            assert first >> 16 == 0x8003  # control bit, version 3
            out.append(("control", first & 0xFFFF, flags, payload))
        else:
            out.append(("data", first, flags, payload))
        at += 8 + length
    return out


def session() -> tuple[Session, Transport]:
    transport = Transport()
    return Session(transport), transport


def test_the_dictionary_is_spdy3s():
    assert len(DICTIONARY) == 1423
    assert hashlib.sha256(DICTIONARY).hexdigest() == SPDY3_DICTIONARY_SHA256
    assert DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head") and DICTIONARY.endswith(b",*,enq=0.")
    words, at = [], 0
    while len(words) < 65:  # 65 length-prefixed words, then the text
        n = struct.unpack(">I", DICTIONARY[at:at + 4])[0]
        words.append(DICTIONARY[at + 4:at + 4 + n].decode())
        at += 4 + n
    assert words[-9:] == ["status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
    assert DICTIONARY[at:].startswith(b"100101201202205206")


def test_a_syn_stream_is_answered_with_a_syn_reply():
    s, transport = session()
    client = Client()
    s.feed_data(client.syn_stream(1, "error"))
    assert s.streams == {"error": 1}
    [(kind, frame_type, flags, payload)] = frames(transport.written)
    assert (kind, frame_type, flags) == ("control", SYN_REPLY, 0)
    assert struct.unpack(">I", payload[:4])[0] == 1
    assert client.headers(payload[4:]) == {}


def test_frames_split_anywhere_and_several_in_one_read():
    s, transport = session()
    client = Client()
    s.expected = {"error", "stdin", "stdout", "stderr"}
    wire = b"".join(client.syn_stream(n, t) for n, t in ((1, "error"), (3, "stdin"), (5, "stdout")))
    for i in range(len(wire)):  # one byte at a time
        assert s.feed_data(wire[i:i + 1]) == (False, b"")
    assert s.streams == {"error": 1, "stdin": 3, "stdout": 5} and not s.opened.is_set()
    s.feed_data(client.syn_stream(7, "stderr") + control(SETTINGS, 0, struct.pack(">I", 0)))
    assert s.opened.is_set()
    replies = frames(transport.written)
    assert [(f[1], struct.unpack(">I", f[3][:4])[0]) for f in replies] == [(SYN_REPLY, n) for n in (1, 3, 5, 7)]
    assert [client.headers(f[3][4:]) for f in replies] == [{}] * 4  # one inflate context for the direction
    assert s.buffer == b""


def test_ping_is_echoed():
    s, transport = session()
    s.feed_data(control(PING, 0, struct.pack(">I", 0x2A)))
    assert frames(transport.written) == [("control", PING, 0, struct.pack(">I", 0x2A))]


def test_stdin_arrives_until_fin_and_other_streams_are_ignored():
    s, _ = session()
    client = Client()
    s.feed_data(client.syn_stream(3, "stdin") + client.syn_stream(9, "resize"))
    s.feed_data(data_frame(3, b"hello ") + data_frame(9, b'{"Width":80}') + data_frame(3, b"world")
                + data_frame(3, b"", FLAG_FIN))
    assert [s.stdin.get_nowait() for _ in range(3)] == [b"hello ", b"world", None]
    assert s.stdin.empty()


def test_goaway_and_a_reset_error_stream_end_the_session():
    s, _ = session()
    s.feed_data(control(GOAWAY, 0, struct.pack(">II", 1, 0)))
    assert s.closed.is_set() and s.stdin.get_nowait() is None
    s, _ = session()
    s.feed_data(Client().syn_stream(1, "error"))
    s.feed_data(control(RST_STREAM, 0, struct.pack(">II", 1, 0)))
    assert s.closed.is_set() and s.stdin.get_nowait() is None


def test_a_reset_stdin_stream_ends_stdin_and_not_the_command():
    s, _ = session()
    client = Client()
    s.feed_data(client.syn_stream(1, "error"))
    s.feed_data(client.syn_stream(3, "stdin"))
    s.feed_data(control(RST_STREAM, 0, struct.pack(">II", 3, 0)))
    assert not s.closed.is_set() and s.stdin.get_nowait() is None
    s.feed_data(control(RST_STREAM, 0, struct.pack(">II", 99, 0)))  # a stream it never opened: nothing
    assert not s.closed.is_set() and s.stdin.empty()


def test_outgoing_data_frames():
    s, transport = session()
    s.feed_data(Client().syn_stream(5, "stdout"))
    transport.written = b""
    s.data("stdout", b"x" * 20000, fin=True)
    s.data("stdout", b"more")
    s.data("stdout", b"", fin=True)
    out = frames(transport.written)
    assert [(f[0], f[1], f[2], len(f[3])) for f in out] == [("data", 5, 0, 16384), ("data", 5, FLAG_FIN, 20000 - 16384),
                                                           ("data", 5, 0, 4), ("data", 5, FLAG_FIN, 0)]
    assert b"".join(f[3] for f in out[:2]) == b"x" * 20000


def test_no_data_on_an_unopened_stream_or_a_closing_transport():
    s, transport = session()
    s.data("stderr", b"lost", fin=True)
    assert transport.written == b""
    s.feed_data(Client().syn_stream(7, "stderr"))
    transport.written, transport.closing = b"", True
    s.data("stderr", b"lost")
    assert transport.written == b""


def test_eof_ends_stdin():
    s, _ = session()
    s.feed_eof()
    assert s.closed.is_set() and s.stdin.get_nowait() is None


def test_server_header_blocks_share_one_deflate_context():
    s, _ = session()
    client = Client()
    first, second = s._header_block({"a": "1"}), s._header_block({"a": "1"})
    assert client.headers(first) == {"a": "1"} and client.headers(second) == {"a": "1"}
    assert len(second) < len(first)  # the second one refers back to the first
    fresh = zlib.decompressobj(zdict=DICTIONARY)
    assert fresh.decompress(first)[4:] == struct.pack(">I", 1) + b"a" + struct.pack(">I", 1) + b"1"
