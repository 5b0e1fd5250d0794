"""The pure modules must not pull in kernel/emulation libraries."""

import json
import os
import subprocess
import sys

PURE_MODULES = [
    "podnet.errors",
    "podnet.naming",
    "podnet.addressing",
    "podnet.spec",
    "podnet.model",
    "podnet.plan",
    "podnet.ipam.range_allocator",
    "podnet.ipam.host_local",
    "podnet.routing.hostgw",
    "podnet.routing.vxlan",
    "podnet.routing.neighbours",
    "podnet.reconcile",
    "podnet.sizing",
    "podnet.addressbook",
    "podnet.views",
    "podnet.commands",
    "podnet.probes.verdict",
    "podnet.graph",
    "podnet.quiz",
    "podnet.workloads.manifests",
    "podnet.services.allocator",
    "podnet.services.proxier",
    "podnet.services.masq",
    "podnet.workloads.endpoints",
    "podnet.workloads.apply",
    "podnet.workloads.addons",
    "podnet.trace",
    "podnet.service_views",
    "podnet.workloads.server",
]
FORBIDDEN = ("mininet", "pyroute2", "scapy")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_pure_modules_import_no_kernel_libraries():
    code = (
        "import importlib, json, sys\n"
        f"for m in {PURE_MODULES!r}:\n"
        "    importlib.import_module(m)\n"
        f"bad = sorted(n for n in sys.modules if n.split('.')[0] in {FORBIDDEN!r})\n"
        "print(json.dumps({'bad': bad, 'loaded': [m for m in sys.modules if m.startswith('podnet')]}))\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["bad"] == []
    assert set(PURE_MODULES) <= set(result["loaded"])


def test_forbidden_libraries_are_detectable():
    # Guards the test above against passing vacuously: pyroute2 is installed in this venv,
    # so importing it in a child does show up in sys.modules.
    code = "import sys, pyroute2; print('pyroute2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "True"
