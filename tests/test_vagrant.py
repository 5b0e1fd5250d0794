"""The classroom VM: the repository's Vagrantfile is valid and asks for what the course needs.

``vagrant validate --ignore-provider`` runs on a copy of the Vagrantfile in a temporary
directory (validation creates a ``.vagrant`` directory next to the file; the repository stays
untouched) with its own VAGRANT_HOME, so no box, plugin or machine of this host is involved.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.root


REPO = Path(__file__).resolve().parents[1]
VAGRANTFILE = REPO / "Vagrantfile"


def _vagrant() -> str:
    path = shutil.which("vagrant") or ("/usr/bin/vagrant" if os.access("/usr/bin/vagrant", os.X_OK) else None)
    if path is None:
        pytest.skip("vagrant is not installed on this machine")
    return path


def _validate(directory: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, VAGRANT_HOME=str(directory / ".vagrant.d"), VAGRANT_CHECKPOINT_DISABLE="1",
               VAGRANT_NO_COLOR="1", VAGRANT_CWD=str(directory))
    return subprocess.run([_vagrant(), "validate", "--ignore-provider"], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=300)


def _copy(tmp_path: Path, text: str | None = None) -> Path:
    work = tmp_path / "podnet"
    (work / "scripts").mkdir(parents=True)
    (work / "Vagrantfile").write_text(text if text is not None else VAGRANTFILE.read_text(encoding="utf-8"),
                                      encoding="utf-8")
    shutil.copy2(REPO / "scripts" / "install.sh", work / "scripts" / "install.sh")
    return work


def test_vagrantfile_validates(tmp_path):
    result = _validate(_copy(tmp_path))
    assert result.returncode == 0, f"vagrant validate failed:\n{result.stdout}\n{result.stderr}"
    assert "validated successfully" in result.stdout


def test_a_broken_vagrantfile_fails_validation(tmp_path):
    # Guards the test above against passing vacuously.
    broken = VAGRANTFILE.read_text(encoding="utf-8").replace("config.vm.box =", "config.vm.boxx =", 1)
    result = _validate(_copy(tmp_path, broken))
    assert result.returncode != 0
    assert "boxx" in result.stdout + result.stderr


def test_vagrantfile_asks_for_the_course_vm():
    text = VAGRANTFILE.read_text(encoding="utf-8")
    box = re.search(r'config\.vm\.box\s*=\s*"([^"]+)"', text)
    assert box and box.group(1) in ("debian/bookworm64", "bento/debian-12", "ubuntu/noble64", "bento/ubuntu-24.04")
    cpus = re.findall(r"\.cpus\s*=\s*(\d+)", text)
    memory = re.findall(r"\.memory\s*=\s*(\d+)", text)
    assert cpus and set(cpus) == {"2"}  # every provider block
    assert memory and set(memory) == {"2048"}
    assert "scripts/install.sh" in text  # provisioned by the script CI uses (.ci/run -> scripts/test.sh)
    assert (REPO / "scripts" / "install.sh").is_file()
    assert "install.sh" in (REPO / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert re.search(r'synced_folder\s+"\."', text)
