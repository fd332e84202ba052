"""Imports run one way through the stages (docs/architecture in design.md): specs -> cost model -> serving ->
solver -> results -> outputs -> api -> commands. Every import counts, including those inside functions."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Package prefix -> the prefixes it must never import (a higher stage).
FORBIDDEN = {
    "autotune.specs": ("autotune.solver", "autotune.outputs", "autotune.commands", "autotune.api",
                       "autotune.serving_api", "autotune.cli", "autotune.results", "cost_models"),
    "cost_models": ("autotune.solver", "autotune.outputs", "autotune.commands", "autotune.api",
                    "autotune.serving_api", "autotune.cli", "autotune.results"),
    "autotune.solver": ("autotune.outputs", "autotune.commands", "autotune.api", "autotune.serving_api",
                        "autotune.cli"),
    "autotune.results": ("autotune.solver", "autotune.outputs", "autotune.commands", "autotune.api",
                         "autotune.cli"),
    "autotune.outputs": ("autotune.solver", "autotune.commands", "autotune.api", "autotune.serving_api",
                         "autotune.cli"),
    "autotune.api": ("autotune.commands", "autotune.cli", "autotune.outputs"),
    "autotune.serving_api": ("autotune.commands", "autotune.cli", "autotune.outputs", "autotune.api"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


SOURCES = sorted(p for d in ("autotune", "cost_models") for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_stages(path):
    module = _module_name(path)
    rules = [banned for prefix, banned in FORBIDDEN.items() if _within(module, prefix)]
    wrong = sorted(name for name in _imports(path) for banned in rules for b in banned if _within(name, b))
    assert not wrong, f"{module} imports a higher stage: {wrong}"


def test_the_rules_cover_every_stage_folder():
    """A new top-level module or folder gets its place in FORBIDDEN (or is one of the entry points)."""
    entry = {"autotune", "autotune.__main__", "autotune.cli", "autotune.commands", "autotune.parallel_plan",
             "autotune.errors", "autotune.presets"}
    for path in SOURCES:
        module = _module_name(path)
        placed = any(_within(module, p) for p in FORBIDDEN) or any(_within(module, e) for e in entry)
        assert placed, f"{module} has no stage in FORBIDDEN"
