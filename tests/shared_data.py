"""Locating ../shared (beside the repo) for tests; tests that need it skip when it is absent."""
from __future__ import annotations

from pathlib import Path

import pytest


def shared_dir() -> Path | None:
    """Returns the shared/ folder beside the repository, or None when it is not there."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "shared", here / "shared"):
        if (candidate / "data").is_dir():
            return candidate
    return None


SHARED = shared_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared is absent (data lives outside the repo)")
