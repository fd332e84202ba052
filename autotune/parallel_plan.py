"""ParallelPlan: one chosen parallel layout, as results report it and emitters render it."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, kw_only=True)
class ParallelPlan:
    """Degrees as the runtime counts them: TP in PEs on RNGD (8 = one card), in GPUs elsewhere."""

    tensor_parallel_size: int
    pipeline_parallel_size: int
    data_parallel_size: int
    batch_size: int
    """Sequences in flight per data-parallel replica."""
    cards_used: int
    """Devices occupied: RNGD cards, or GPUs."""
    pes_used: int
    """Compute units occupied: PEs on RNGD (8 per card), GPUs elsewhere."""
    max_num_batched_tokens: int | None = None
    """Tokens one engine step may compute per replica (the chunked-prefill budget); None: the engine
    profile's default for the device (cost_models/serving/engines/*.yaml), which `--emit` states."""

    def to_dict(self) -> dict[str, int]:
        out = asdict(self)
        if out["max_num_batched_tokens"] is None:
            del out["max_num_batched_tokens"]  # unset: the JSON of every plan without a budget is unchanged
        return out
