"""Packaging: a distribution name of our own, install hints that work from the checkout (issue 8, section 4)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_the_distribution_is_not_named_like_the_unrelated_pypi_project():
    # `pip download --no-deps autotune` fetches autotune-0.0.3, someone else's project; `autotune-parallel`
    # had no release on PyPI when it was chosen (pip download: "No matching distribution found").
    project = _project()
    assert project["name"] == "autotune-parallel"
    # The command and the import package keep their name.
    assert project["scripts"] == {"autotune": "autotune.cli:main"}
    assert "plot" in project["optional-dependencies"]


def test_no_install_hint_names_the_pypi_autotune():
    # `pip install "autotune[plot]"` would install the unrelated project: every hint installs from the checkout.
    files = [REPO / "README.md", *sorted((REPO / "autotune").rglob("*.py")), *sorted((REPO / "docs").rglob("*.md"))]
    offenders = [str(path.relative_to(REPO)) for path in files
                 if re.search(r"pip install\s+['\"]?autotune\b", path.read_text(encoding="utf-8"))]
    assert offenders == []
    assert 'pip install ".[plot]"' in (REPO / "README.md").read_text()
    assert 'pip install ".[plot]"' in (REPO / "autotune" / "outputs" / "plots.py").read_text()
