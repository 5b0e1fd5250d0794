"""The package's shape, machine-checked: layers import downward only, no import circles, a pure
core, small modules and functions, a docstring per module saying what it mirrors.

The layer rules are import-linter contracts in setup.cfg; these tests run them on the real
package and on a copy with one upward import planted, which must fail naming the line.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "podnet"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
LAYERS = {"cli", "web", "views", "course", "probes", "lab", "k8s", "docker", "kernel", "core"}
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
KERNEL_LIBRARIES = ("mininet", "pyroute2", "scapy")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        dotted = ".".join(path.relative_to(REPO).with_suffix("").parts)
        found[dotted.removesuffix(".__init__")] = path
    return found


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(root / "setup.cfg")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layer_contracts_hold():
    result = _lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "broken" not in result.stdout.replace("0 broken", ""), result.stdout


def test_an_upward_import_breaks_a_contract_and_the_failure_names_the_line(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "podnet", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "setup.cfg", tmp_path / "setup.cfg")
    victim = tmp_path / "podnet" / "core" / "naming.py"
    lines = victim.read_text().splitlines()
    lines.append("from podnet.cli.main import main  # planted: the pure core reaching up to the CLI")
    victim.write_text("\n".join(lines) + "\n")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "podnet's layers import downward only BROKEN" in result.stdout, result.stdout
    assert f"podnet.core.naming -> podnet.cli.main (l.{len(lines)})" in result.stdout, result.stdout


def _imports(path: Path, dotted: str) -> set[str]:
    """Every podnet module ``path`` imports, at any depth of the module (functions too)."""
    package = dotted if path.name == "__init__.py" else dotted.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def test_no_module_is_part_of_an_import_circle():
    modules = _modules()
    graph = {m: {d for d in _imports(p, m) if d in modules and d != m and not m.startswith(d + ".")}
             for m, p in modules.items()}
    circles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    circles.append(" -> ".join(path + [start]))
                    stack.clear()
                    break
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
    assert not circles, "import circles:\n" + "\n".join(sorted(circles)[:10])


def test_the_pure_core_imports_in_a_fresh_interpreter_without_kernel_libraries():
    core = sorted(m for m in _modules() if m.startswith("podnet.core"))
    code = (
        "import importlib, json, sys\n"
        f"for m in {core!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code], cwd="/", capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    loaded = set(__import__("json").loads(out.stdout))
    assert set(core) <= loaded
    assert not {m for m in loaded if m.split(".")[0] in KERNEL_LIBRARIES}, "the core pulled in a kernel library"
    assert not {m for m in loaded if m.startswith("podnet.") and not m.startswith("podnet.core")}, (
        "the core imported a layer above it")


def test_kernel_libraries_are_detectable_in_a_fresh_interpreter():
    # Guards the test above against passing vacuously: importing pyroute2 does show.
    out = subprocess.run([sys.executable, "-I", "-c", "import sys, pyroute2; print('pyroute2' in sys.modules)"],
                         cwd="/", capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr


def test_the_top_of_the_package_names_its_layers():
    entries = {p.name for p in PACKAGE.iterdir() if not p.name.startswith(("__pycache__", "."))}
    assert len(entries) <= 12, sorted(entries)  # ten layers, __init__ and __main__
    assert entries == LAYERS | {"__init__.py", "__main__.py"}, sorted(entries)


@pytest.mark.parametrize("dotted", sorted(_modules()))
def test_every_module_is_small_and_says_what_it_mirrors(dotted):
    path = _modules()[dotted]
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{dotted}: {len(text.splitlines())} lines"
    tree = ast.parse(text)
    doc = ast.get_docstring(tree) or ""
    assert doc, f"{dotted} has no docstring"
    if path.name not in ("__init__.py", "__main__.py"):
        assert "Mirrors" in doc, f"{dotted}: the docstring should say which component it mirrors"
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{dotted}: {', '.join(long)}"
