"""DESIGN.md's layering, held by the import-linter contract in pyproject.toml: an app imports
only from the layers below it, imports inside functions included, and nothing imports reports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# DESIGN.md, "Apps": the layers, bottom up. sso (single sign-on, issue #18) sits beside catalog:
# it reads accounts and writes through accounts' services. notifications (chat channels, issue #18)
# sits beside catalog too: it knows teams and the audit log only, and every app that has news
# imports it. scim (provisioning, issue #18) sits on top beside reports: nothing imports it.
DESIGN_LAYERS = [{"audit"}, {"accounts"}, {"catalog", "sso", "notifications"}, {"change_types"},
                 {"changes", "access_reviews"}, {"delivery"}, {"environments", "validation", "incidents"},
                 {"releases"}, {"reports", "scim"}]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter over the checkout at `root` (its own apps/, not an installed copy)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()", "--no-cache", "--config", str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == "layers")


def test_the_contract_declares_the_layers_of_the_design_for_every_app():
    contract = _contract()
    assert contract["type"] == "layers" and contract["containers"] == ["apps"] and contract["exhaustive"]
    declared = [{name.strip().strip("()") for name in layer.split(":")} for layer in reversed(contract["layers"])]
    assert declared == DESIGN_LAYERS
    apps = {p.parent.name for p in (ROOT / "apps").glob("*/apps.py")}
    assert apps <= set().union(*DESIGN_LAYERS)
    # Only layers that do not exist yet are optional: an app that exists cannot drop out unnoticed.
    optional = {name.strip().strip("()") for layer in contract["layers"] for name in layer.split(":")
                if name.strip().startswith("(")}
    assert not optional & apps


def test_apps_import_only_from_the_layers_below_them():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    """The contract has teeth: a lazy import of reports from catalog, as the project writes
    cross-app reads, is reported with its module and line."""
    copy = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", "templates", "static", "migrations")
    for name in ("apps", "releaseportal"):
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    models = copy / "apps" / "catalog" / "models.py"
    models.write_text(models.read_text() + "\n\ndef _figures():\n    from apps.reports import metrics\n\n"
                      "    return metrics\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "apps.catalog is not allowed to import apps.reports" in result.stdout
    assert "apps.catalog.models -> apps.reports.metrics" in result.stdout
