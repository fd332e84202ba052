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
    expert_parallel_size: int | None = None
    """Mixture-of-experts models: expert-parallel groups of one stage's TP units (each holds whole experts;
    MoE tensor parallel = TP / EP). None: not an MoE plan (plain TP, i.e. 1)."""
    attention_data_parallel_size: int | None = None
    """Mixture-of-experts models: attention data-parallel groups of one stage's TP units (each serves its own
    requests with its own KV cache; attention tensor parallel = TP / ADP). None: not an MoE plan (1)."""

    @property
    def ep(self) -> int:
        """Returns the expert-parallel degree (1 when unset)."""
        return 1 if self.expert_parallel_size is None else self.expert_parallel_size

    @property
    def adp(self) -> int:
        """Returns the attention data-parallel degree (1 when unset)."""
        return 1 if self.attention_data_parallel_size is None else self.attention_data_parallel_size

    def to_dict(self) -> dict[str, int]:
        out = asdict(self)
        # Unset keys are left out, so the JSON of every dense plan and of every plan without a budget is unchanged.
        for key in ("max_num_batched_tokens", "expert_parallel_size", "attention_data_parallel_size"):
            if out[key] is None:
                del out[key]
        return out
