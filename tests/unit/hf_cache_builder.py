"""Builds a Hugging Face hub cache in a temporary folder, in the layout huggingface_hub writes.

`hub/models--ORG--NAME/blobs/<sha256>` holds the file, `snapshots/<commit>/config.json` links to
it, and `refs/<branch or tag>` holds the commit. The configs are real ones from the presets.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

PRESETS = Path(__file__).resolve().parents[2] / "autotune" / "presets" / "models"
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


def add_to_cache(hub: Path, repo_id: str, config_text: str, *, commit: str = COMMIT_A,
                 refs: tuple[str, ...] = ("main",)) -> Path:
    """Returns the snapshot folder after caching `config_text` as `repo_id`'s config.json at `commit`."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    blob = repo / "blobs" / hashlib.sha256(config_text.encode()).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_text(config_text, encoding="utf-8")
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    link = snapshot / "config.json"
    try:
        link.symlink_to(os.path.relpath(blob, snapshot))
    except OSError:  # no symlinks (Windows without developer mode): huggingface_hub copies the file then
        link.write_text(config_text, encoding="utf-8")
    for ref in refs:
        path = repo / "refs" / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(commit, encoding="utf-8")
    return snapshot


def preset_config(name: str) -> str:
    """Returns the text of a shipped preset's config.json."""
    return (PRESETS / f"{name}.json").read_text(encoding="utf-8")
