"""Continuous batching in steady state: the one pricing of a serving replica at a batch.

`batch` sequences per replica are in flight. Every decode step also carries the prefill work of
the requests that replace finished ones (input_len / output_len prompt tokens per generated
token), so TPOT is a mixed step; TTFT is one prompt's prefill alongside the other batch - 1
sequences' decode tokens; throughput is dp x batch / TPOT.

Both the search (`cost_models.evaluate`) and the validation of `offline_max_throughput` and
`batch1_first_token_latency` rows (`cost_models.regimes`) call `steady_state_metrics`, so that
what `autotune validate` checks is what `autotune recommend` ranks.
"""
from __future__ import annotations

import numpy as np

from cost_models import timing
from cost_models.inputs import RowInputs
from cost_models.params import CostParams


def steady_state_metrics(rows: RowInputs, params: CostParams) -> dict[str, np.ndarray]:
    """Returns `ttft_s`, `tpot_s`, `e2e_latency_s` (seconds) and `throughput_tokens_per_s` (all replicas) at `rows.batch`."""
    batch = rows.batch
    tpot_s = timing.decode_cycle_s(rows, params, batch, rows.input_len / rows.output_len)
    ttft_s = timing.prefill_time_s(rows, params, np.ones(len(rows)), batch - 1.0)
    return {"ttft_s": ttft_s, "tpot_s": tpot_s, "e2e_latency_s": ttft_s + (rows.output_len - 1.0) * tpot_s,
            "throughput_tokens_per_s": rows.dp * batch / tpot_s}
