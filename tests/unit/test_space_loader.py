"""Search spaces as data: the shipped releases' rules, the loader, and bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from autotune.errors import InputError
from autotune.specs.hardware_loader import list_hardware_presets, load_hardware
from autotune.specs.space import SPACE_DIR, list_spaces, load_space, parse_space

REQUIRED_SPACES = {"furiosa-2024.2", "furiosa-2025.2", "furiosa-2025.3", "furiosa-2026.3", "furiosa-2026.4", "gpu"}


def _space_yaml(name: str) -> dict:
    return yaml.safe_load((SPACE_DIR / f"{name}.yaml").read_text())


def _write(tmp_path: Path, data, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_the_issue_spaces_ship():
    assert set(list_spaces()) == REQUIRED_SPACES
    assert (SPACE_DIR / "__init__.py").is_file()


@pytest.mark.parametrize("name", sorted(REQUIRED_SPACES))
def test_every_space_cites_where_its_rules_come_from(name):
    text = (SPACE_DIR / f"{name}.yaml").read_text()
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) >= 3
    assert "Source" in text or "source" in text
    space = load_space(name)
    assert space.name == name
    assert space.source == f"search_spaces/{name}.yaml"
    assert all(b1 < b2 and c1 >= c2 for (b1, c1), (b2, c2) in zip(space.decode_buckets, space.decode_buckets[1:]))


# Allowed TP sizes on 8 RNGD cards (64 PEs), per ../shared/reference/furiosa-llm.md section 2.
@pytest.mark.parametrize("name,release,covers,world,sizes", [
    ("furiosa-2024.2", "2024.2", ("2024.2", "2025.1"), "equal", [4, 8]),           # [S-3] docs: 4 or 8
    ("furiosa-2025.2", "2025.2", ("2025.2",), "at_most", [1, 2, 4, 8]),             # intra-card only
    ("furiosa-2025.3", "2025.3", ("2025.3", "2026.1"), "at_most",
     [1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64]),                                    # {1,2,4} U 8k
    ("furiosa-2026.3", "2026.3", ("2026.2", "2026.3"), "at_most", [4, 8, 32]),     # validate_parallel_config
    ("furiosa-2026.4", "2026.4", ("2026.4",), "at_most", [8, 16, 32, 64]),         # kernels: 1,2,4,8 chips
])
def test_furiosa_releases(name, release, covers, world, sizes):
    space = load_space(name)
    assert space.runtime == "furiosa" and space.tp_unit == "pe"
    assert space.release == release
    assert space.covers_releases == covers
    assert space.world_size == world
    assert space.pp_distinct_devices
    assert space.replica_within_node
    assert space.allowed_tp_sizes(64, 8) == sizes


def test_release_defaults_emitters_need():
    assert load_space("furiosa-2024.2").default_tp == 4     # ArtifactBuilder default TP=4 [S-10]
    assert load_space("furiosa-2026.3").default_tp == 8     # ParallelConfig default TP=8 [S-11]
    assert load_space("furiosa-2026.4").default_tp is None  # per-model kernel preset [S-16]
    assert all(load_space(n).default_pp == 1 for n in REQUIRED_SPACES)


def test_2026_3_caps_a_replica_at_8_cards_and_2026_4_checks_kv_heads():
    assert load_space("furiosa-2026.3").replica_max_devices == 8
    assert load_space("furiosa-2026.4").kv_heads_divisible_by_cards
    assert load_space("furiosa-2026.4").tp_cards_per_group == (1, 2, 4, 8)


def test_gpu_space():
    gpu = load_space("gpu")
    assert gpu.runtime == "gpu" and gpu.tp_unit == "device" and gpu.release is None
    assert gpu.tp_powers_of_two and gpu.tp_within_node and gpu.tp_divides_attention_heads
    assert gpu.world_size == "at_most"
    assert not gpu.replica_within_node
    assert gpu.allowed_tp_sizes(16, 1) == [1, 2, 4, 8, 16]


@pytest.mark.parametrize("hardware", sorted(list_hardware_presets()))
def test_every_hardware_default_space_loads(hardware):
    spec = load_hardware(hardware)
    space = load_space(spec.default_space)
    assert (space.tp_unit == "pe") == (spec.compute_units_per_device > 1)


def test_tp_allowed_is_vectorized():
    space = load_space("furiosa-2025.3")
    tp = np.array([1, 2, 3, 4, 6, 8, 12, 16, 20, 24])
    assert space.tp_allowed(tp, 8).tolist() == [True, True, False, True, False, True, False, True, False, True]


@pytest.mark.parametrize("name", sorted(REQUIRED_SPACES))
def test_to_dict_round_trips(name):
    space = load_space(name)
    data = space.to_dict()
    data.pop("source")
    assert parse_space(data, source="round trip") == space


def test_names_are_case_insensitive_and_paths_work(tmp_path):
    assert load_space("GPU").name == "gpu"
    assert load_space(str(SPACE_DIR / "gpu.yaml")).name == "gpu"
    path = _write(tmp_path, _space_yaml("furiosa-2024.2"))
    assert load_space(str(path)).tp_sizes == (4, 8)


# ---------------------------------------------------------------------------------------------
# Bad input


def _error(tmp_path, data) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(InputError) as info:
        load_space(str(path))
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_missing_file_directory_empty_invalid_list_binary(tmp_path):
    with pytest.raises(InputError, match="existing file"):
        load_space(str(tmp_path / "missing.yaml"))
    with pytest.raises(InputError, match="not a directory"):
        load_space(str(tmp_path))
    assert "non-empty" in _error(tmp_path, "   \n")
    assert "valid YAML" in _error(tmp_path, "tensor_parallel: {sizes: [4, 8\n")
    assert "mapping at the top level" in _error(tmp_path, "- 4\n- 8\n")
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(InputError, match="binary"):
        load_space(str(junk))


def test_unknown_keys_are_named(tmp_path):
    data = _space_yaml("gpu")
    data["tensor_paralel"] = {}
    assert "tensor_paralel" in _error(tmp_path, data)
    data = _space_yaml("gpu")
    data["tensor_parallel"]["sizes_allowed"] = [1]
    assert "tensor_parallel.sizes_allowed" in _error(tmp_path, data)
    data = _space_yaml("gpu")
    data["pipeline_parallel"]["stages"] = 4
    assert "pipeline_parallel.stages" in _error(tmp_path, data)


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d.pop("world_size"), "'world_size'"),
    (lambda d: d.update(world_size="exactly"), "at_most, equal"),
    (lambda d: d.update(runtime="cuda"), "furiosa, gpu"),
    (lambda d: d.update(tp_unit="card"), "device, pe"),
    (lambda d: d.update(release=2024.2), "quoted release"),
    (lambda d: d.update(decode_buckets=[[1, "two"]]), "pairs of integers"),
    (lambda d: d.update(decode_buckets=[[0, 1024]]), "pairs of integers"),
    (lambda d: d.update(decode_buckets="1,2,4"), "pairs of integers"),
    (lambda d: d.update(batch_sizes=[1, 2]), "batch_sizes"),
    (lambda d: d.update(dtypes=["bf16", "fp7"]), "dtypes[1]"),
    (lambda d: d.update(tensor_parallel={"sizes": [4, -8]}), "tensor_parallel.sizes[1]"),
    (lambda d: d.update(tensor_parallel={"sizes": [float("nan")]}), "tensor_parallel.sizes[0]"),
    (lambda d: d.update(tensor_parallel={"multiples_of": 10**9}), "tensor_parallel.multiples_of"),
    (lambda d: d.update(tensor_parallel={"powers_of_two": "yes"}), "true or false"),
    (lambda d: d.update(tensor_parallel={}), "at least one of sizes"),
    (lambda d: d.update(tensor_parallel=[4, 8]), "a mapping"),
    (lambda d: d.update(replica={"max_devices": 0}), "replica.max_devices"),
    (lambda d: d.pop("name"), "'name'"),
])
def test_bad_values(tmp_path, mutate, expected):
    data = _space_yaml("furiosa-2024.2")
    mutate(data)
    assert expected in _error(tmp_path, data)


def test_unknown_space_suggests_the_closest():
    with pytest.raises(InputError) as info:
        load_space("furiosa-2024.3")
    assert "did you mean" in str(info.value) and "furiosa-2024.2" in str(info.value)


def test_decode_buckets_bound_the_batch_by_context():
    # furiosa-llm.md section 6 item 2: the widest attention bucket of each decode batch (Llama-3.1-8B artifact).
    space = load_space("furiosa-2026.4")
    assert space.max_decode_batch(2048) == 256
    assert space.max_decode_batch(2049) == 128 and space.max_decode_batch(4096) == 128
    assert space.max_decode_batch(131072) == 2 and space.max_decode_batch(131073) == 0
    assert load_space("gpu").max_decode_batch(2048) is None


def test_a_space_must_state_whether_a_stage_needs_a_layer(tmp_path):
    data = yaml.safe_load((SPACE_DIR / "furiosa-2026.4.yaml").read_text())
    del data["pipeline_parallel"]["at_most_layers"]
    assert "pipeline_parallel.at_most_layers" in _error(tmp_path, data)
