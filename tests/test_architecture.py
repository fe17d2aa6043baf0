"""The dependency direction of DESIGN.md, enforced: tandem → {reports, sim, optimize, crm_model} →
scenarios, and no package imports one it is not allowed to."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("scenarios", "crm_model", "optimize", "sim", "reports", "tandem")
ALLOWED = {
    "scenarios": set(),
    "crm_model": {"scenarios"},
    "optimize": {"scenarios"},
    "sim": {"scenarios", "crm_model"},
    "reports": {"scenarios"},
    "tandem": {"scenarios", "crm_model", "optimize", "sim", "reports"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_import_direction(package: str) -> None:
    offenders = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imports(path) - ALLOWED[package] - {package}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}, f"{package} may import only {sorted(ALLOWED[package])}"


def test_checker_would_catch_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from tandem.cli import app\nimport sim.engine\n", encoding="utf-8")
    assert _imports(bad) == {"tandem", "sim"}


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_starts_with_a_docstring(package: str) -> None:
    missing = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / package).rglob("*.py"))
        if p.stat().st_size and ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
    ]
    assert missing == []
