"""The real kubectl binaries the tests run against a lab's API server, and how they are run.

Debian's ``kubernetes-client`` (kubectl v1.20.2, unpacked into ``.venv/kubernetes-client`` by
``scripts/install.sh --with-test-tools``) speaks only SPDY for exec; a newer kubectl on PATH
(v1.32 on the CI machines) tries WebSocket first. Every kubectl test runs with each binary
present; both are expected on a machine set up by the test command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from tests.support.processes import CMD_TIMEOUT, REPO, explain, podnet, run

DEBIAN_KUBECTL = REPO / ".venv" / "kubernetes-client" / "usr" / "bin" / "kubectl"


@dataclass(frozen=True)
class Binary:
    path: str
    version: str  # "v1.20.2"

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])


def _version(path: str) -> str | None:
    result = run([path, "version", "--client", "-o", "json"])
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)["clientVersion"]["gitVersion"]


def binaries() -> list[Binary]:
    """Each distinct kubectl on this machine: Debian's unpacked one first, then PATH's."""
    found: list[Binary] = []
    for path in (str(DEBIAN_KUBECTL), shutil.which("kubectl")):
        if path and os.access(path, os.X_OK):
            version = _version(path)
            if version and all(b.version != version for b in found):
                found.append(Binary(path, version))
    return found


class Kubectl:
    """One kubectl binary pointed at one lab through the kubeconfig podnet prints."""

    def __init__(self, binary: Binary, lab_name: str, config_dir):
        self.binary = binary
        self.lab_name = lab_name
        self.kubeconfig = os.path.join(str(config_dir), f"{lab_name}-{binary.version}.kubeconfig")
        printed = podnet("kubeconfig", "--name", lab_name, check=True)
        fd = os.open(self.kubeconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(printed.stdout)

    def argv(self, *args: str) -> list[str]:
        return [self.binary.path, "--kubeconfig", self.kubeconfig, *args]

    def __call__(self, *args: str, input: str | None = None, timeout: float = CMD_TIMEOUT,
                 check: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run(self.argv(*args), capture_output=True, text=True, input=input, timeout=timeout,
                                cwd=REPO, env=dict(os.environ, HOME=os.path.dirname(self.kubeconfig)))
        if check and result.returncode != 0:
            raise AssertionError(explain(result))
        return result

    def json(self, *args: str) -> dict:
        return json.loads(self("get", *args, "-o", "json", check=True).stdout)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=REPO, env=dict(os.environ, HOME=os.path.dirname(self.kubeconfig)))


def rows(text: str) -> list[list[str]]:
    """A kubectl table as rows of columns (split on runs of two or more spaces), header first."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def column(text: str, name: str) -> dict[str, str]:
    """One column of a kubectl table, by the first column (NAME)."""
    table = rows(text)
    at = table[0].index(name)
    return {row[0]: row[at] for row in table[1:]}
