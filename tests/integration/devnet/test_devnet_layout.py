"""devnet's modules form no import cycle, and each imports on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lucid_tron.devnet

PACKAGE = Path(lucid_tron.devnet.__file__).parent
PRIVATE_MODULES = sorted(p.stem for p in PACKAGE.glob("_*.py") if not p.stem.startswith("__"))


def _local_imports(path: Path) -> set[str]:
    """Modules of the package that `path` imports, including imports made only for type checking."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            cycle = visit(imported, [*path, module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle:
            return cycle
    return None


def test_devnet_modules_import_each_other_without_a_cycle():
    graph = {name: _local_imports(PACKAGE / f"{name}.py") for name in PRIVATE_MODULES}

    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_http_modules_do_not_know_the_devnet_class():
    for name in ("_app", "_wallet", "_v1", "_admin", "_web"):
        assert "_devnet" not in _local_imports(PACKAGE / f"{name}.py"), name


def test_every_devnet_module_imports_alone_in_a_fresh_interpreter():
    for module in (f"lucid_tron.devnet.{name}" for name in PRIVATE_MODULES):
        result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (module, result.stderr)
