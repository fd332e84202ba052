"""The rules of a search space, checked over arrays of (TP, PP, DP) rows at once.

Each rule is one `RuleResult`: a name, what it requires, a boolean array of the rows that
break it, and a function that says why for one row, with the numbers. The cost model's
`estimate`, the solver (which fixes violating rows to 0, one rule at a time so it can say
which rule binds) and `enumerate` all read the same results.

Device counting (`devices_used`) lives with the candidate arrays in `autotune.specs.candidates`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from autotune.errors import InputError
from autotune.specs.candidates import devices_per_stage, devices_used, layout_arrays  # noqa: F401 (devices_used: re-exported)
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace


#: Longest list of allowed TP sizes a message spells out.
_MAX_LISTED = 12


@dataclass(frozen=True, kw_only=True)
class RuleResult:
    """One rule of a space evaluated over candidate rows."""

    rule_id: str
    """Stable name, e.g. 'world_size', 'tp_allowed', 'pp_distinct_devices'."""
    description: str
    """What the rule requires, in words, with its numbers."""
    violated: np.ndarray
    """Boolean per row: True where the row breaks the rule."""
    explain: Callable[[int], str]
    """Returns the message for row i (meaningful where `violated[i]`)."""
    standing: Callable[[int], str] | None = None
    """For rules the batch moves: where row i stands against the rule, with numbers."""

    def message(self, index: int) -> str:
        """Returns why row `index` breaks this rule."""
        return self.explain(int(index))

    def messages(self) -> list[str]:
        """Returns the messages of every violating row, in row order."""
        return [self.explain(int(i)) for i in np.flatnonzero(self.violated)]


# ---------------------------------------------------------------------------------------------
# Counting


def units_used(hardware: HardwareSpec, tp: np.ndarray, pp: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """Returns the compute units (PEs on RNGD, GPUs elsewhere) each row keeps busy: TP x PP x DP."""
    del hardware  # same for every device; kept for a uniform signature
    tp, pp, dp = layout_arrays(tp, pp, dp)
    return tp * pp * dp


# ---------------------------------------------------------------------------------------------
# The candidate superset


def degree_superset(space: SearchSpace, hardware: HardwareSpec, model: ModelSpec,
                    cards: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (tp, pp, dp) int64 arrays: every layout worth considering on `cards` devices.

    TP ranges over every size some space could allow (powers of two, whole devices, and
    this space's own sizes) up to the fleet's units, so that `enumerate` can show rows this
    space rejects, with the reason; PP over 1..cards; DP over 1.. with TP x PP x DP at most
    the fleet's units. Sorted by (tp, pp, dp).
    """
    del model  # the superset does not depend on the model; the rules do
    cards = _check_cards(cards)
    upd = hardware.compute_units_per_device
    total = cards * upd
    sizes = {1 << k for k in range(total.bit_length()) if (1 << k) <= total}
    sizes.update(range(upd, total + 1, upd))
    sizes.update(space.allowed_tp_sizes(total, upd))
    tp_values = np.array(sorted(sizes), dtype=np.int64)
    pp_values = np.arange(1, cards + 1, dtype=np.int64)
    tp_grid, pp_grid = (g.ravel() for g in np.meshgrid(tp_values, pp_values, indexing="ij"))
    dp_max = total // (tp_grid * pp_grid)
    keep = dp_max >= 1
    tp_grid, pp_grid, dp_max = tp_grid[keep], pp_grid[keep], dp_max[keep]
    tp = np.repeat(tp_grid, dp_max)
    pp = np.repeat(pp_grid, dp_max)
    starts = np.repeat(np.cumsum(dp_max) - dp_max, dp_max)
    dp = np.arange(len(tp), dtype=np.int64) - starts + 1
    return tp, pp, dp


# ---------------------------------------------------------------------------------------------
# The rules


def check_rules(space: SearchSpace, hardware: HardwareSpec, model: ModelSpec, cards: int,
                tp: np.ndarray, pp: np.ndarray, dp: np.ndarray) -> list[RuleResult]:
    """Returns one RuleResult per rule of `space`, each vectorized over the rows (tp, pp, dp)."""
    cards = _check_cards(cards)
    tp, pp, dp = layout_arrays(tp, pp, dp)
    ctx = _Context(space=space, hardware=hardware, model=model, cards=cards, tp=tp, pp=pp, dp=dp)
    checks: list[Callable[[_Context], RuleResult | None]] = [
        _tp_allowed, _world_size, _fits_fleet, _pp_distinct_devices, _pp_max_stages, _pp_layers,
        _tp_within_node, _tp_divides_heads, _kv_heads_by_cards, _replica_devices,
    ]
    results = [check(ctx) for check in checks]
    return [r for r in results if r is not None]


def feasible_mask(results: Sequence[RuleResult], length: int | None = None) -> np.ndarray:
    """Returns a bool array: True where a row breaks none of `results`."""
    if not results:
        return np.ones(0 if length is None else length, dtype=bool)
    broken = np.zeros(len(results[0].violated), dtype=bool)
    for result in results:
        broken |= result.violated
    return ~broken


def violations_for(results: Sequence[RuleResult], index: int) -> list[str]:
    """Returns the messages of every rule row `index` breaks, in rule order."""
    return [r.message(index) for r in results if bool(r.violated[index])]


def dtype_violations(space: SearchSpace, dtype: str, kv_dtype: str | None = None) -> list[str]:
    """Returns why the weight and KV-cache formats are not ones the space's runtime serves (empty: they are).

    Whether the device computes in that format is the cost model's business (weight-only formats
    such as FP8 weights on A100 run on wider math), so it is not judged here.
    """
    messages = []
    if dtype not in space.dtypes:
        messages.append(f"weights in {dtype} not served by {space.name} (formats: {', '.join(space.dtypes)})")
    kv = kv_dtype or dtype
    if kv not in space.kv_dtypes:
        messages.append(f"KV cache in {kv} not served by {space.name} (formats: {', '.join(space.kv_dtypes)})")
    return messages


def check_space_hardware(space: SearchSpace, hardware: HardwareSpec) -> None:
    """Raises InputError when `space` counts TP in units `hardware` does not have."""
    upd = hardware.compute_units_per_device
    if space.tp_unit == "pe" and upd == 1:
        raise InputError(source=f"space '{space.name}'", field="tp_unit", value=space.tp_unit,
                         expected=f"hardware with PEs: {hardware.name} has 1 compute unit per device "
                                  f"(use a GPU space such as 'gpu')")
    if space.tp_unit == "device" and upd > 1:
        raise InputError(source=f"space '{space.name}'", field="tp_unit", value=space.tp_unit,
                         expected=f"hardware of 1 compute unit per device: {hardware.name} has {upd} "
                                  f"{hardware.unit_name}s per {hardware.device_name} (use its space "
                                  f"'{hardware.default_space}')")


@dataclass(frozen=True, kw_only=True)
class _Context:
    space: SearchSpace
    hardware: HardwareSpec
    model: ModelSpec
    cards: int
    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray

    @property
    def upd(self) -> int:
        return self.hardware.compute_units_per_device

    @property
    def total_units(self) -> int:
        return self.cards * self.upd

    def units(self, n: int) -> str:
        return _plural(n, self.hardware.unit_name)

    def devices(self, n: int) -> str:
        return _plural(n, self.hardware.device_name)

    def row(self, i: int) -> tuple[int, int, int]:
        return int(self.tp[i]), int(self.pp[i]), int(self.dp[i])


def _tp_allowed(ctx: _Context) -> RuleResult:
    space, upd = ctx.space, ctx.upd
    allowed = space.allowed_tp_sizes(max(ctx.total_units, upd), upd)
    unit = ctx.hardware.unit_name
    if not allowed:
        shown = "none on this fleet"
    elif len(allowed) <= _MAX_LISTED:
        shown = ", ".join(str(v) for v in allowed)
    else:  # a long list reads worse than the rule itself
        shown = f"{space.describe_tp_rule(upd)}, up to {allowed[-1]}"

    def explain(i: int) -> str:
        return f"TP {int(ctx.tp[i])} not allowed by {space.name} (allowed: {shown} {unit}s)"

    return RuleResult(rule_id="tp_allowed",
                      description=f"TP size is {space.describe_tp_rule(upd)} {unit}s",
                      violated=~space.tp_allowed(ctx.tp, upd), explain=explain)


def _world_size(ctx: _Context) -> RuleResult:
    space, total = ctx.space, ctx.total_units
    used = ctx.tp * ctx.pp * ctx.dp
    fleet = f"the {ctx.units(total)} of {ctx.devices(ctx.cards)}"
    if space.world_size == "equal":
        violated = used != total

        def explain(i: int) -> str:
            tp, pp, dp = ctx.row(i)
            head = f"TP x PP x DP = {tp} x {pp} x {dp} = {ctx.units(int(used[i]))}, " \
                   f"but {space.name} requires exactly {fleet}"
            if total % (tp * pp) == 0:
                return head + f" (DP {total // (tp * pp)} would use them all)"
            return head + f" (no DP fills them with TP {tp} x PP {pp})"

        description = f"TP x PP x DP equals {fleet}"
    else:
        violated = used > total

        def explain(i: int) -> str:
            tp, pp, dp = ctx.row(i)
            return (f"TP x PP x DP = {tp} x {pp} x {dp} = {ctx.units(int(used[i]))}, "
                    f"more than {fleet}")

        description = f"TP x PP x DP is at most {fleet}"
    return RuleResult(rule_id="world_size", description=description, violated=violated, explain=explain)


def _fits_fleet(ctx: _Context) -> RuleResult:
    # Only the packing part: rows with too many units already break world_size.
    needed = devices_used(ctx.hardware, ctx.tp, ctx.pp, ctx.dp)
    within_units = ctx.tp * ctx.pp * ctx.dp <= ctx.total_units
    violated = (needed > ctx.cards) & within_units
    upd = ctx.upd

    def explain(i: int) -> str:
        tp, pp, dp = ctx.row(i)
        if tp >= upd:
            why = f"{dp} replica(s) x {pp} stage(s) x {ctx.devices(-(-tp // upd))} per TP group"
        else:
            why = (f"at most {upd // tp} TP groups of {ctx.units(tp)} per {ctx.hardware.device_name}, "
                   f"and a replica's {pp} stage(s) on distinct {ctx.hardware.device_name}s")
        return (f"TP {tp} x PP {pp} x DP {dp} needs {ctx.devices(int(needed[i]))} ({why}), "
                f"but the fleet has {ctx.cards}")

    return RuleResult(rule_id="fits_fleet",
                      description=f"the layout's {ctx.hardware.device_name}s fit in the fleet of {ctx.cards}",
                      violated=violated, explain=explain)


def _pp_distinct_devices(ctx: _Context) -> RuleResult | None:
    if not ctx.space.pp_distinct_devices:
        return None
    violated = ctx.pp > ctx.cards
    name = ctx.hardware.device_name

    def explain(i: int) -> str:
        return f"PP {int(ctx.pp[i])} > {ctx.devices(ctx.cards)}: pipeline stages must be on distinct {name}s"

    return RuleResult(rule_id="pp_distinct_devices",
                      description=f"PP at most the {name}s ({ctx.cards}): stages on distinct {name}s",
                      violated=violated, explain=explain)


def _pp_max_stages(ctx: _Context) -> RuleResult | None:
    limit = ctx.space.pp_max_stages
    if limit is None:
        return None

    def explain(i: int) -> str:
        return f"PP {int(ctx.pp[i])} > {limit}: {ctx.space.name} allows at most {limit} pipeline stages"

    return RuleResult(rule_id="pp_max_stages", description=f"PP at most {limit}",
                      violated=ctx.pp > limit, explain=explain)


def _pp_layers(ctx: _Context) -> RuleResult | None:
    if not ctx.space.pp_at_most_layers:
        return None
    layers = ctx.model.num_layers

    def explain(i: int) -> str:
        return f"PP {int(ctx.pp[i])} > {layers} layers: every pipeline stage needs at least one layer"

    return RuleResult(rule_id="pp_layers", description=f"PP at most the {layers} decoder layers",
                      violated=ctx.pp > layers, explain=explain)


def _tp_within_node(ctx: _Context) -> RuleResult | None:
    if not ctx.space.tp_within_node:
        return None
    per_node = ctx.hardware.devices_per_node
    spans = devices_per_stage(ctx.hardware, ctx.tp)

    def explain(i: int) -> str:
        return (f"TP {int(ctx.tp[i])} spans {ctx.devices(int(spans[i]))}, but one machine of "
                f"{ctx.hardware.name} holds {per_node}: a TP group must stay inside a machine")

    return RuleResult(rule_id="tp_within_node",
                      description=f"a TP group fits in one machine ({ctx.devices(per_node)})",
                      violated=spans > per_node, explain=explain)


def _tp_divides_heads(ctx: _Context) -> RuleResult | None:
    if not ctx.space.tp_divides_attention_heads:
        return None
    heads = ctx.model.num_attention_heads

    def explain(i: int) -> str:
        return f"TP {int(ctx.tp[i])} does not divide the {heads} attention heads"

    return RuleResult(rule_id="tp_divides_heads", description=f"TP divides the {heads} attention heads",
                      violated=heads % ctx.tp != 0, explain=explain)


def _kv_heads_by_cards(ctx: _Context) -> RuleResult | None:
    if not ctx.space.kv_heads_divisible_by_cards:
        return None
    kv_heads = ctx.model.num_key_value_heads
    group = devices_per_stage(ctx.hardware, ctx.tp)
    name = ctx.hardware.device_name

    def explain(i: int) -> str:
        return (f"{kv_heads} KV heads not divisible by the {int(group[i])} {name}s of a TP {int(ctx.tp[i])} "
                f"group ({ctx.space.name} kernels need num_key_value_heads % {name}s == 0)")

    return RuleResult(rule_id="kv_heads_divisible_by_cards",
                      description=f"the {kv_heads} KV heads divide evenly over the {name}s of a TP group",
                      violated=kv_heads % group != 0, explain=explain)


def _replica_devices(ctx: _Context) -> RuleResult | None:
    space, hw = ctx.space, ctx.hardware
    limits = []
    if space.replica_max_devices is not None:
        limits.append((space.replica_max_devices, f"{space.name} allows at most {space.replica_max_devices}"))
    if space.replica_within_node:
        limits.append((hw.devices_per_node, f"one machine of {hw.name} holds {hw.devices_per_node}"))
    if not limits:
        return None
    limit = min(value for value, _ in limits)
    reason = "; ".join(text for value, text in limits if value == limit)
    per_stage = devices_per_stage(hw, ctx.tp)
    spans = ctx.pp * per_stage
    upd = ctx.upd

    def explain(i: int) -> str:
        return (f"ceil(TP/{upd}) x PP = {int(per_stage[i])} x {int(ctx.pp[i])} = "
                f"{ctx.devices(int(spans[i]))} for one replica, but {reason}")

    return RuleResult(rule_id="replica_devices",
                      description=f"one replica spans at most {ctx.devices(limit)} (ceil(TP/{upd}) x PP)",
                      violated=spans > limit, explain=explain)


# ---------------------------------------------------------------------------------------------
# Helpers




def _check_cards(cards: int) -> int:
    if isinstance(cards, bool) or int(cards) != cards or cards < 1:
        raise InputError(source="fleet", field="cards", value=cards, expected="an integer >= 1")
    return int(cards)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# ---------------------------------------------------------------------------------------------
# Rules on the batch and the lengths (rows of (PP, batch) for one workload)


def context_limit(model: ModelSpec) -> int:
    """Returns the longest context (prompt + output tokens) the model supports (rope scaling included)."""
    return int(model.max_context_len)


def check_batch_rules(space: SearchSpace, model: ModelSpec, input_len: int, output_len: int,
                      pp: np.ndarray, batch: np.ndarray) -> list[RuleResult]:
    """Returns the rules on the batch per replica and the request lengths, vectorized over rows.

    - `context_len`: input + output tokens within the model's context limit (every row alike).
    - `decode_bucket_batch`: on runtimes that compile their own decode buckets, the batch of a
      micro-batch (batch / PP, rounded up) fits the largest bucket whose context holds the request.
    """
    pp = np.asarray(pp, dtype=np.int64)
    batch = np.asarray(batch, dtype=np.int64)
    context = input_len + output_len
    limit = context_limit(model)
    results = [RuleResult(
        rule_id="context_len", description=f"prompt + output within the model's {limit:,}-token context",
        violated=np.full(len(batch), context > limit),
        explain=lambda i: f"context: {input_len:,} prompt + {output_len:,} output = {context:,} tokens exceeds "
                          f"{model.name}'s limit of {limit:,} tokens")]
    bucket_batch = space.max_decode_batch(context)
    if bucket_batch is not None:
        per_micro = -(-batch // np.maximum(pp, 1))
        cap = bucket_batch * pp

        def explain(i: int) -> str:
            if bucket_batch == 0:
                return (f"decode buckets: none of {space.name}'s decode buckets holds {context:,} tokens "
                        f"(widest {max(c for _, c in space.decode_buckets):,})")
            return (f"decode buckets: batch {int(batch[i])} per replica needs {int(per_micro[i])} sequences per "
                    f"micro-batch; {space.name}'s largest decode bucket holding {context:,} tokens has batch "
                    f"{bucket_batch} (at most {int(cap[i])} with PP {int(pp[i])})")

        def standing(i: int) -> str:
            return (f"{int(per_micro[i])} sequences per micro-batch of the {bucket_batch} {space.name}'s decode "
                    f"buckets hold at {context:,} tokens")

        results.append(RuleResult(
            rule_id="decode_bucket_batch",
            description=f"batch per micro-batch within the largest decode bucket holding {context:,} tokens "
                        f"({bucket_batch})",
            violated=per_micro > bucket_batch, explain=explain, standing=standing))
    return results
