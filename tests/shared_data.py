"""Where the tests find reference data: `TEST_DATA` (in the repository), and ../shared for what stays outside.

`TEST_DATA` (tests/data) holds verbatim copies of the published reference files the golden and emitter
tests check against, so they run in a fresh clone; tests/data/SOURCES.md names each file's source.
`SHARED` is the ../shared folder beside the repository, when present: only data deliberately kept out of
the repository (the held-out RNGD serving measurements) is read from there, and tests that need it skip
without it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

TEST_DATA = Path(__file__).resolve().parent / "data"
"""In-repository copies of ../shared's reference files (see tests/data/SOURCES.md)."""


def shared_dir() -> Path | None:
    """Returns the shared/ folder beside the repository, or None when it is not there."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "shared", here / "shared"):
        if (candidate / "data").is_dir():
            return candidate
    return None


SHARED = shared_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared is absent (data kept outside the repo)")
