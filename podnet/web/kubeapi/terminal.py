"""The process behind one ``kubectl exec``: plain pipes, or a pseudo-terminal for ``exec -it``;
and the exit Status both exec protocols send back.

Mirrors the container runtime's side of the kubelet's exec (CRI ``Exec`` with ``tty``):
without a terminal, stdout and stderr are two streams and stdin a pipe; with one, the command
gets a new session whose controlling terminal is a pty (job control, prompts and line editing
work), everything it prints comes back on stdout, and the client's window size (the resize
channel: ``{"Width": W, "Height": H}``) is set on the terminal as it changes. Differs from a
real runtime in that the command runs in the Pod's network namespace only (podnet's Pods
share the machine's filesystem), as every podnet exec does.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import struct
import termios
from typing import Awaitable, Callable

STDOUT, STDERR = 1, 2
Send = Callable[[int, bytes], Awaitable[None]]


async def _pump(reader: asyncio.StreamReader, send: Send, channel: int) -> None:
    while True:
        chunk = await reader.read(32768)
        if not chunk:
            return
        await send(channel, chunk)


class Piped:
    """A command with pipes: stdout and stderr apart, stdin closed when the client closes it."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc

    @classmethod
    async def start(cls, argv: list[str], stdin: bool) -> Piped:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        return cls(proc)

    async def outputs(self, send: Send) -> None:
        await asyncio.gather(_pump(self.proc.stdout, send, STDOUT), _pump(self.proc.stderr, send, STDERR))

    async def write(self, data: bytes) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()

    def close_stdin(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()

    def resize(self, _message: bytes) -> None:
        pass  # no terminal, no window

    async def wait(self) -> int:
        return await self.proc.wait()

    def kill(self) -> None:
        _kill_group(self.proc)

    def close(self) -> None:
        pass


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """End the command and whatever it started (its own session and process group), by PID."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _take_terminal() -> None:
    """In the child, after ``setsid``: the pty on fd 0 becomes its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A command on a pseudo-terminal: one output, the window size set by the client."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int):
        self.proc, self.master = proc, master

    @classmethod
    async def start(cls, argv: list[str]) -> Terminal:
        master, slave = os.openpty()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=_take_terminal,
                env=dict(os.environ, TERM=os.environ.get("TERM", "xterm")))
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        return cls(proc, master)

    async def outputs(self, send: Send) -> None:
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue = asyncio.Queue()

        def readable() -> None:
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                return
            except OSError:  # EIO: every holder of the terminal's other side has gone
                data = b""
            chunks.put_nowait(data)
            if not data:
                loop.remove_reader(self.master)

        loop.add_reader(self.master, readable)
        try:
            while chunk := await chunks.get():
                await send(STDOUT, chunk)
        finally:
            loop.remove_reader(self.master)

    async def write(self, data: bytes) -> None:
        while data and self.master >= 0:
            try:
                written = os.write(self.master, data)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            except OSError:
                return
            data = data[written:]

    def close_stdin(self) -> None:
        try:
            if self.master >= 0:
                os.write(self.master, b"\x04")  # end of input, as Ctrl-D at the terminal
        except OSError:
            pass

    def resize(self, message: bytes) -> None:
        """Each JSON size on the resize channel, e.g. ``{"Width":120,"Height":40}``."""
        for line in message.decode(errors="replace").splitlines():
            try:
                size = json.loads(line)
                width, height = int(size["Width"]), int(size["Height"])
            except (ValueError, KeyError, TypeError):
                continue
            if 0 < width < 65536 and 0 < height < 65536 and self.master >= 0:
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

    async def wait(self) -> int:
        return await self.proc.wait()

    def kill(self) -> None:
        _kill_group(self.proc)

    def close(self) -> None:
        if self.master >= 0:
            master, self.master = self.master, -1
            os.close(master)


def exit_status(code: int, command: list[str]) -> dict:
    """The Status on the error channel: Success, or NonZeroExitCode with the code as a cause."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command {command}, exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


def flag(request, name: str) -> bool:
    """A boolean query parameter of an exec request (``stdin=true``, ``tty=1``)."""
    return request.query.get(name) in ("true", "1")


async def run(proc: Piped | Terminal, send: Send, hung_up: Awaitable) -> int | None:
    """Carry the command's output to the client until the command exits, and return its exit
    code; if the client goes away first (``hung_up`` finishes, or sending fails), end the
    command and all it started, and return None. The process is reaped and its terminal
    closed either way."""
    pumping = asyncio.ensure_future(proc.outputs(send))
    gone = asyncio.ensure_future(hung_up)
    try:
        await asyncio.wait({pumping, gone}, return_when=asyncio.FIRST_COMPLETED)
        left = not pumping.done() or pumping.exception() is not None
        if left:
            proc.kill()
        try:
            await pumping
        except Exception:  # the connection broke while output was on its way
            pass
        code = await proc.wait()
        return None if left else code
    finally:
        gone.cancel()
        pumping.cancel()
        proc.kill()
        proc.close()


async def launch(argv: list[str], stdin: bool, tty: bool) -> Piped | Terminal:
    return await Terminal.start(argv) if tty else await Piped.start(argv, stdin)
