"""--release selects the rules: every release the Furiosa emitter knows has a search space covering it."""
from __future__ import annotations

import pytest

import autotune
from autotune import api
from autotune.outputs.emit.furiosa_releases import RELEASES
from autotune.errors import InputError
from autotune.specs.space import check_space_covers, load_space, release_label, space_for_release


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_every_emitter_release_resolves_to_a_space_covering_it(release):
    space = space_for_release(release)
    assert release in space.covers_releases
    assert space.runtime == "furiosa"


@pytest.mark.parametrize(("text", "space_name"), [("2026.3", "furiosa-2026.3"), ("2026.2", "furiosa-2026.3"),
                                                  ("2025.1", "furiosa-2024.2"), ("furiosa-2026.1", "furiosa-2025.3"),
                                                  ("2025.3.4", "furiosa-2025.3")])
def test_release_names_and_wheel_versions_pick_the_covering_file(text, space_name):
    assert space_for_release(text).name == space_name


def test_release_label_strips_prefix_and_patch():
    assert release_label("furiosa-2024.2") == "2024.2"
    assert release_label("2024.2.1") == "2024.2"
    assert release_label(" 2026.4 ") == "2026.4"


def test_unknown_release_is_one_input_error():
    with pytest.raises(InputError, match=r"--release: got '2030\.1'; expected a release a shipped search space "
                                         r"covers: 2024\.2, 2025\.1"):
        space_for_release("2030.1")


def test_a_space_that_does_not_cover_the_release_is_refused():
    check_space_covers(load_space("furiosa-2026.3"), "2026.2")  # covered: no error
    with pytest.raises(InputError, match=r"--release: got '2026\.3'; expected a release the space "
                                         r"furiosa-2026\.4 covers \(2026\.4\)"):
        check_space_covers(load_space("furiosa-2026.4"), "2026.3")


def test_api_resolve_takes_the_release_space():
    request = api.resolve("llama-3.1-70b", "rngd", cards=4, release="2026.3")
    assert request.space.name == "furiosa-2026.3"
    assert api.resolve("llama-3.1-70b", "rngd", cards=4).space.name == "furiosa-2026.4"
    with pytest.raises(InputError, match="--release"):
        api.resolve("llama-3.1-70b", "rngd", cards=4, space="furiosa-2026.4", release="2026.3")


def test_api_recommend_with_a_release_answers_within_its_tp_rule():
    # 2026.3 validate_parallel_config: TP in {4, 8, 32} PEs (search_spaces/furiosa-2026.3.yaml, [S-11]).
    result = autotune.recommend("llama-3.1-70b", "rngd", cards=4, release="2026.3")
    assert result.recommendations
    assert result.recommendations[0].plan.tensor_parallel_size in (4, 8, 32)
    assert result.assumptions.space == "furiosa-2026.3"
