"""An unreadable file is one InputError line (exit 2), for every file argument.

Tests run as root, where `chmod 000` does not stop reads, so a denied read is simulated by making
`Path.read_bytes` (what `autotune.specs.fields.read_text` calls) raise PermissionError for one file.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autotune.errors import InputError
from autotune.specs.fields import path_exists, read_text
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from autotune.specs.space import SPACE_DIR, load_space
from cost_models.measurements import read_measurements
from cost_models.params import DEFAULT_PARAMS_PATH, load_params

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "autotune" / "presets" / "models" / "llama-3.2-1b.json"
HARDWARE = ROOT / "autotune" / "presets" / "hardware" / "rngd.yaml"
SPACE = SPACE_DIR / "furiosa-2026.4.yaml"
MEASUREMENTS = ROOT / "cost_models" / "data" / "calibration.csv"


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    """Copies of a real file of each kind, each under the name `denied.*`."""
    out = {}
    for kind, source in (("model", MODEL), ("hardware", HARDWARE), ("space", SPACE), ("measurements", MEASUREMENTS),
                         ("params", DEFAULT_PARAMS_PATH)):
        folder = tmp_path / kind
        folder.mkdir()
        out[kind] = folder / ("denied" + source.suffix)
        shutil.copy(source, out[kind])
    return out


def _deny(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.stem == "denied":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


LOADERS = {"model": lambda p: load_model(str(p)), "hardware": lambda p: load_hardware(str(p)),
           "space": lambda p: load_space(str(p)), "measurements": read_measurements, "params": load_params}


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_denied_read_is_one_input_error_naming_the_file(files, monkeypatch, kind):
    LOADERS[kind](files[kind])  # readable: loads
    _deny(monkeypatch)
    with pytest.raises(InputError, match=r"expected a readable file \(Permission denied\)") as info:
        LOADERS[kind](files[kind])
    assert str(files[kind]) in str(info.value)
    assert "\n" not in str(info.value)


def test_a_path_that_cannot_be_looked_at_is_an_input_error(monkeypatch, tmp_path):
    def stat(self, **_):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "stat", stat)
    with pytest.raises(InputError, match="readable"):
        path_exists(tmp_path / "x" / "config.json")
    with pytest.raises(InputError, match="readable"):
        read_text(tmp_path / "x" / "config.json")


# The real entry point, with the read denied inside the process (as root, chmod 000 would not).
_DENYING_MAIN = textwrap.dedent("""
    import pathlib, sys
    real = pathlib.Path.read_bytes
    def read_bytes(self):
        if self.stem == "denied":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)
    pathlib.Path.read_bytes = read_bytes
    from autotune.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _cli(*args: str, deny: bool = False) -> subprocess.CompletedProcess:
    head = [sys.executable, "-c", _DENYING_MAIN] if deny else [sys.executable, "-m", "autotune"]
    return subprocess.run([*head, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                                      os.environ.get("PYTHONPATH")]))})


def _commands(files: dict[str, Path]) -> dict[str, list[str]]:
    return {
        "model": ["models", str(files["model"])],
        "hardware": ["recommend", "--model", "llama-3.2-1b", "--hardware", str(files["hardware"])],
        "space": ["recommend", "--model", "llama-3.2-1b", "--space", str(files["space"])],
        "measurements": ["validate", "--measurements", str(files["measurements"])],
        "params": ["estimate", "--model", "llama-3.2-1b", "--tp", "8", "--params", str(files["params"])],
    }


@pytest.mark.parametrize("kind", ["model", "hardware", "space", "measurements", "params"])
def test_cli_denied_file_is_one_line_exit_2(files, kind):
    result = _cli(*_commands(files)[kind], deny=True)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(files[kind]) in lines[0] and "readable" in lines[0]


@pytest.mark.parametrize("kind", ["model", "hardware", "space", "measurements", "params"])
def test_cli_directory_where_a_file_is_expected_is_one_line_exit_2(files, kind):
    folder = files[kind].parent / "a-folder"
    folder.mkdir()
    args = [str(folder) if a == str(files[kind]) else a for a in _commands(files)[kind]]
    result = _cli(*args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(folder) in lines[0]
