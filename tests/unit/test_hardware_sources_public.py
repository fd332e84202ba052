"""Hardware presets cite public sources only: a user has no `../shared` folder to look a figure up in."""
from __future__ import annotations

import pytest

from autotune.specs.hardware_loader import PRESET_DIR, list_hardware_presets, load_hardware

PRIVATE = ("shared/", "hardware.csv", "furiosa-llm.md")


@pytest.mark.parametrize("name", list_hardware_presets())
def test_no_preset_file_cites_the_private_reference_folder(name):
    text = (PRESET_DIR / f"{name}.yaml").read_text()
    for word in PRIVATE:
        assert word not in text, f"{name}.yaml mentions {word!r}"


@pytest.mark.parametrize("name", list_hardware_presets())
def test_no_sources_entry_cites_the_private_reference_folder(name):
    spec = load_hardware(name)
    for key, source in spec.sources.items():
        assert not any(word in source for word in PRIVATE), f"{name} sources.{key}: {source}"


def test_rngd_lists_its_source_tags_with_public_addresses():
    text = (PRESET_DIR / "rngd.yaml").read_text()
    assert "[S-1]  FuriosaAI RNGD hardware specification, https://developer.furiosa.ai/" in text
    assert "https://furiosa.ai/blog/rngd-preview-furiosa-ai" in text
