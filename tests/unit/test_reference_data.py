"""The reference data the golden and emitter tests read ships in the repository (issue 8, section 4)."""
from __future__ import annotations

import filecmp
import re
from pathlib import Path

import pytest

from tests.shared_data import SHARED, TEST_DATA

REPO = Path(__file__).resolve().parents[2]
#: Not the data tests' skip: the copies ran; only their comparison with the originals needs ../shared.
drift_check = pytest.mark.skipif(SHARED is None, reason="drift check of tests/data against ../shared, which "
                                                        "a clone does not have (the copies themselves were used)")
#: tests/data file -> the ../shared file it copies.
COPIES = {
    "furiosa-llm-signatures.json": "reference/furiosa-llm-signatures.json",
    "furiosa-llm.md": "reference/furiosa-llm.md",
    "hardware.csv": "data/hardware.csv",
    "param_counts.csv": "data/param_counts.csv",
    "model_configs": "data/model_configs",
}


def test_every_copy_is_in_the_repository_and_named_in_sources():
    sources = (TEST_DATA / "SOURCES.md").read_text()
    for name, origin in COPIES.items():
        assert (TEST_DATA / name).exists(), name
        assert f"`{origin}" in sources, origin
    shipped = {p.name for p in TEST_DATA.iterdir()} - {"SOURCES.md"}
    assert shipped == set(COPIES)
    configs = sorted(p.name for p in (TEST_DATA / "model_configs").glob("*.json"))
    assert len(configs) == 17
    listed = (TEST_DATA / "model_configs" / "SOURCES.csv").read_text()
    assert all(name in listed for name in configs)


def test_the_held_out_rngd_measurements_are_not_in_the_repository():
    # ../shared/data/measurements/rngd_serving.csv judges the model on hardware it was not fitted on.
    tracked = [p for p in REPO.rglob("rngd_serving*") if ".git" not in p.parts]
    assert tracked == []


def test_no_test_reads_a_copied_file_from_outside_the_repository():
    # A test that reads ../shared skips without it: only the held-out data may be read from there.
    copied = [*COPIES, "calibration.csv"]
    offenders = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name in ("shared_data.py", Path(__file__).name):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"SHARED\s*/", line) and any(name in line for name in copied):
                offenders.append(f"{path.relative_to(REPO)}:{number}")
    assert offenders == []


@drift_check
@pytest.mark.parametrize("name", sorted(COPIES))
def test_copies_match_shared_when_it_is_there(name):
    # Drift check for developers who have ../shared: the copies are verbatim.
    here, there = TEST_DATA / name, SHARED / COPIES[name]
    if here.is_dir():
        match, mismatch, errors = filecmp.cmpfiles(here, there, sorted(p.name for p in there.iterdir()),
                                                   shallow=False)
        assert mismatch == [] and errors == [], (mismatch, errors)
    else:
        assert filecmp.cmp(here, there, shallow=False)


def test_the_calibration_file_the_tests_compare_with_is_the_repositorys():
    calibration = REPO / "cost_models" / "data" / "calibration.csv"
    assert calibration.is_file()
    if SHARED is not None:
        assert filecmp.cmp(calibration, SHARED / "data" / "measurements" / "calibration.csv", shallow=False)
