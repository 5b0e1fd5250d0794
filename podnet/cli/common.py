"""What every verb of the command line shares: the parser's manners, the lab's name, root,
progress bars, and opening a lab.

Mirrors kubectl's and containerlab's conventions: bad usage is one line and exit 2 (no usage
dump), ``--name`` picks a lab (default: the only one running, else ``podnet``), ``-o json``
on everything people read, progress on stderr only when it is a terminal.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys

from podnet.core.errors import EXIT_BAD_INPUT, InputError, PodnetError
from podnet.core.naming import check_lab_name
from podnet.core.spec import DEFAULT_LAB
from podnet.kernel import state_file

PROG = "podnet"
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOPOLOGIES_DIR = os.environ.get("PODNET_TOPOLOGIES", os.path.join(PACKAGE_ROOT, "topologies"))


class Terminated(BaseException):
    """SIGTERM or SIGHUP: tear down, exit 130. Not a KeyboardInterrupt on purpose: Mininet's
    CLI catches those to stop a command and carry on, and a termination must end the lab."""


def on_signal(signum, _frame):
    raise Terminated(signal.Signals(signum).name)


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        sys.stderr.write(f"{PROG}: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_BAD_INPUT)


def add_lab(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", help="lab name (default: the only running lab, else podnet)")


def add_output(p: argparse.ArgumentParser, choices=("table", "json")) -> None:
    p.add_argument("-o", "--output", default="table", choices=choices, help="output format")


def lab_name(given: str | None) -> str:
    """``--name``, or the one lab on the machine, or the default name."""
    if given is not None:
        return check_lab_name(given)
    labs = state_file.list_labs()
    if len(labs) == 1:
        return labs[0]
    if len(labs) > 1 and DEFAULT_LAB not in labs:
        raise InputError("--name", "", f"{len(labs)} labs are running ({', '.join(labs[:6])}): choose one with --name")
    return DEFAULT_LAB


def require_root() -> None:
    if os.geteuid() != 0:
        raise PodnetError("podnet needs root to work with network namespaces (run it with sudo)")


def open_lab(name: str):
    """The running lab ``name``, opened for kernel work (root only)."""
    from podnet.lab.session import Lab

    require_root()
    return Lab.open(name)


def progress_printer(enabled: bool):
    def show(stage: str, done: int, total: int) -> None:
        if not enabled:
            return
        width = 24
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r  {stage:<7}[{'#' * filled}{'.' * (width - filled)}] {done}/{total}   ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def stderr_progress(output: str = "table"):
    """A progress bar on stderr when it is a terminal and the output is not JSON."""
    return progress_printer(sys.stderr.isatty() and output != "json")


def check_listen(text: str, field: str = "listen") -> str:
    """An address to listen on, as given: an IP address (loopback unless someone asks)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InputError(field, text, "must be an IP address, e.g. 127.0.0.1 (loopback) or 0.0.0.0 (every "
                         "interface: only when it may be reached from elsewhere)") from None
