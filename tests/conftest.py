"""Every test runs against an empty Hugging Face cache with the network off, and the shipped parameters.

`--model ORG/NAME` may read the user's Hugging Face cache and download a config.json; a test
must do neither. The environment set here is inherited by the CLI tests' subprocesses.
"""
from __future__ import annotations

from pathlib import Path

import pytest

_HUB_VARIABLES = ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
                  "HF_TOKEN")


@pytest.fixture(autouse=True)
def _isolated_hugging_face_cache(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    for name in _HUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AUTOTUNE_PARAMS", raising=False)  # a user's parameter file must not reach the tests
    home = tmp_path_factory.mktemp("hf_home")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home
