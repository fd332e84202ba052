"""The token budget per engine step that `--emit` writes: the plan's, else the engine profile's default.

A plan carries `max_num_batched_tokens` when a solver chose it; None means "the engine profile's
default for this device" (cost_models/serving/engines/*.yaml, read through `load_engine`, so the
numbers live in one place). The emitters state in a comment which of the two they wrote.
"""
from __future__ import annotations

from dataclasses import dataclass

from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan
from cost_models.serving.engines import ENGINE_OF_EMIT_FORMAT, EngineProfile, load_engine


@dataclass(frozen=True, kw_only=True)
class TokenBudget:
    """The tokens one engine step may compute, and where the number came from."""

    tokens: int | None
    """Tokens per step; None when neither the plan nor a profile for the device gives one."""
    from_plan: bool
    """The plan carried the budget (a solver's choice), rather than the profile's default."""
    source: str
    """Words for the comment line, without quote characters: 'set by the plan' or
    'the default of vLLM 0.10 on h100-sxm (engine profile vllm.yaml)'."""


def engine_profile(fmt: str, hardware: object, release: str | None = None) -> EngineProfile | None:
    """Returns the engine profile of an `--emit` format for the hardware, or None when none applies.

    None when the profile has no entry for the release, or when no hardware is known and the
    profile's defaults depend on the device (vLLM and SGLang pick them by memory and name).
    """
    try:
        return load_engine(ENGINE_OF_EMIT_FORMAT[fmt], hardware, release)  # type: ignore[arg-type]
    except AttributeError:
        if hardware is None:
            return None  # a default tiered by device, and no device to pick the tier
        raise
    except InputError as error:
        if release is not None and error.source == "--release":
            return None  # no profile for this release
        raise  # a broken profile file is a bug to show, not a default to skip


def attention_dp_ranks(fmt: str, *, plan: ParallelPlan, hardware: object, release: str | None = None) -> int:
    """Returns how many schedulers a replica of `plan` splits its limits over in format `fmt`: the plan's attention
    DP degree when the engine takes its flags per rank (`EngineProfile.limits_per_attention_dp_rank`: vLLM,
    TensorRT-LLM), else 1 (SGLang divides the replica's flags itself)."""
    if plan.adp <= 1:
        return 1
    profile = engine_profile(fmt, hardware, release)
    return plan.adp if profile is not None and profile.limits_per_attention_dp_rank else 1


def token_budget(fmt: str, *, plan: ParallelPlan, hardware: object, release: str | None = None) -> TokenBudget:
    """Returns the token budget per step (tokens) to emit for `plan` in format `fmt`: per attention-DP rank where
    the engine takes it so (`attention_dp_ranks`; a plan's budget is its replica's)."""
    if plan.max_num_batched_tokens is not None:
        if plan.max_num_batched_tokens < 1:
            raise InputError(source="plan", field="max_num_batched_tokens", value=plan.max_num_batched_tokens,
                             expected="an integer >= 1 (tokens per engine step)")
        ranks = attention_dp_ranks(fmt, plan=plan, hardware=hardware, release=release)
        if ranks == 1:
            return TokenBudget(tokens=plan.max_num_batched_tokens, from_plan=True, source="set by the plan")
        return TokenBudget(tokens=-(-plan.max_num_batched_tokens // ranks), from_plan=True,
                           source=f"set by the plan, per attention-DP rank (the replica's "
                                  f"{plan.max_num_batched_tokens} over {ranks} ranks)")
    profile = engine_profile(fmt, hardware, release)
    if profile is None:
        return TokenBudget(tokens=None, from_plan=False, source="the engine picks its default for the device")
    device = getattr(hardware, "name", "the device")
    return TokenBudget(tokens=profile.max_num_batched_tokens, from_plan=False,
                       source=f"the default of {profile.display_name} {profile.release} on {device} "
                              f"(engine profile {ENGINE_OF_EMIT_FORMAT[fmt]}.yaml)")
