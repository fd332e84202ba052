"""The one pricing of a serving replica, used by the search and by validate (cost_models/steady_state.py)."""
from __future__ import annotations

import numpy as np

from autotune import api
from autotune.specs.candidates import Candidates
from autotune.specs.workload import Workload
import cost_models
from cost_models import regimes, timing
from cost_models.evaluate import candidate_inputs
from cost_models.measurements import BUILTIN_MEASUREMENTS, read_measurements
from cost_models.steady_state import steady_state_metrics

PARAMS = cost_models.load_params()


def _rows(batch: float):
    model, hardware = api.load_model("llama-3.1-70b"), api.load_hardware("h100-sxm")
    candidates = Candidates.single(tp=4, pp=1, dp=1, batch=int(batch), cards=4)
    return candidate_inputs(model, hardware, Workload(input_len=2048, output_len=128), candidates, PARAMS)


def test_every_decode_step_carries_the_prefill_of_the_requests_that_replace_finished_ones():
    rows = _rows(32)
    metrics = steady_state_metrics(rows, PARAMS)
    pure = timing.decode_cycle_s(rows, PARAMS, rows.batch, np.zeros(1))
    mixed = timing.decode_cycle_s(rows, PARAMS, rows.batch, rows.input_len / rows.output_len)
    assert metrics["tpot_s"][0] == mixed[0] > pure[0] * 1.2  # 16 prompt tokens per output token at 2048/128


def test_a_new_prompt_is_prefilled_beside_the_other_sequences_decode_tokens():
    alone = steady_state_metrics(_rows(1), PARAMS)["ttft_s"][0]
    crowded = steady_state_metrics(_rows(64), PARAMS)["ttft_s"][0]
    rows = _rows(64)
    assert crowded == timing.prefill_time_s(rows, PARAMS, np.ones(1), rows.batch - 1.0)[0] > alone


def test_search_and_validate_price_a_row_the_same():
    # An offline row of calibration.csv, predicted by validate, equals the search's table at the same batch.
    rows = [r for r in read_measurements(BUILTIN_MEASUREMENTS["calibration"])[0]
            if r.load_type == "offline_max_throughput" and r.pp == 1][:5]
    prepared = regimes.prepare(rows, PARAMS)
    predicted = regimes.predict(prepared, PARAMS)
    for i, row in enumerate(rows):
        batch = int(predicted["batch"][i])
        workload = Workload(input_len=row.input_len, output_len=row.output_len, dtype=row.dtype,
                            kv_dtype=row.kv_dtype, batch=batch)
        one = Candidates.single(tp=row.tp, pp=row.pp, dp=row.dp, batch=batch, cards=row.tp * row.pp * row.dp)
        # The search path itself (`cost_models.evaluate`, what recommend ranks), not the shared function.
        search = cost_models.evaluate(row.model, row.hardware, workload, one, params=PARAMS)
        assert np.isclose(search.throughput_tokens_per_s[0], predicted["throughput"][i], rtol=1e-12)
