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


def moe_degree_superset(space: SearchSpace, model: ModelSpec, tp: np.ndarray, pp: np.ndarray,
                        dp: np.ndarray) -> tuple[np.ndarray, ...]:
    """Returns (tp, pp, dp, ep, adp) int64 arrays: each layout crossed with the MoE degrees the space runs.

    For a mixture-of-experts model, every expert-parallel degree EP and attention data-parallel degree ADP
    that `space` allows for the layout's TP (`SearchSpace.moe_degree_allowed`: each divides TP), EP also
    dividing the routed experts (each device holds whole experts, the same number on each). A dense model, or
    a space that runs neither, keeps EP = ADP = 1. Only the degrees the space allows are added, not every
    divisor pair: the table stays at most (divisors of TP)^2 times larger, and a pinned degree the space
    rejects is still added by the pins so that the rules say why. Sorted by (tp, pp, dp, ep, adp).
    """
    tp, pp, dp = (np.asarray(a, dtype=np.int64) for a in (tp, pp, dp))
    ones = np.ones(len(tp), dtype=np.int64)
    if not model.is_moe or (space.expert_parallel == "none" and space.attention_data_parallel == "none"):
        return tp, pp, dp, ones, ones.copy()
    pairs_by_tp: dict[int, list[tuple[int, int]]] = {}
    for size in np.unique(tp).tolist():
        eps = [e for e in space.moe_degrees("expert_parallel", size) if model.num_experts % e == 0]
        adps = space.moe_degrees("attention_data_parallel", size)
        pairs_by_tp[size] = [(e, a) for e in eps for a in adps]
    counts = np.array([len(pairs_by_tp[int(t)]) for t in tp.tolist()], dtype=np.int64)
    index = np.repeat(np.arange(len(tp)), counts)
    pairs = np.array([pair for t in tp.tolist() for pair in pairs_by_tp[int(t)]], dtype=np.int64).reshape(-1, 2)
    return tp[index], pp[index], dp[index], pairs[:, 0].copy(), pairs[:, 1].copy()


# ---------------------------------------------------------------------------------------------
# The rules


def check_rules(space: SearchSpace, hardware: HardwareSpec, model: ModelSpec, cards: int,
                tp: np.ndarray, pp: np.ndarray, dp: np.ndarray, ep: np.ndarray | None = None,
                adp: np.ndarray | None = None) -> list[RuleResult]:
    """Returns one RuleResult per rule of `space`, each vectorized over the rows (tp, pp, dp, ep, adp).

    `ep` and `adp` (None: all 1) are the expert-parallel and attention data-parallel degrees of each row;
    their rules appear only when some row has one above 1, so plain layouts see the rules they always had.
    """
    cards = _check_cards(cards)
    tp, pp, dp = layout_arrays(tp, pp, dp)
    ep = np.ones(len(tp), dtype=np.int64) if ep is None else np.atleast_1d(np.asarray(ep, dtype=np.int64))
    adp = np.ones(len(tp), dtype=np.int64) if adp is None else np.atleast_1d(np.asarray(adp, dtype=np.int64))
    if len(ep) != len(tp) or len(adp) != len(tp):
        raise ValueError(f"ep, adp arrays differ in length from tp: {len(ep)}, {len(adp)} vs {len(tp)}")
    for name, values in (("expert_parallel_size", ep), ("attention_data_parallel_size", adp)):
        if values.size and values.min() < 1:
            raise InputError(source="parallel degrees", field=name, value=int(values.min()),
                             expected="an integer >= 1")
    ctx = _Context(space=space, hardware=hardware, model=model, cards=cards, tp=tp, pp=pp, dp=dp, ep=ep, adp=adp)
    checks: list[Callable[[_Context], RuleResult | None]] = [
        _tp_allowed, _world_size, _fits_fleet, _pp_distinct_devices, _pp_max_stages, _pp_layers,
        _pp_attention_types, _tp_within_node, _tp_divides_heads, _kv_heads_by_cards, _replica_devices,
        _moe_model, _moe_divides_tp, _ep_divides_experts, _ep_allowed, _adp_allowed,
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
    ep: np.ndarray
    adp: np.ndarray

    @property
    def moe_rows(self) -> bool:
        """Whether some row splits experts or attention (EP or ADP above 1)."""
        return bool(np.any(self.ep > 1) or np.any(self.adp > 1))

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


def stage_layer_ranges(num_layers: int, pp: int) -> list[tuple[int, int]]:
    """Returns each stage's (first, last) layer index of an even contiguous split, the longer stages first.

    Furiosa LLM does not publish how it assigns layers to stages; an even contiguous split (stages of
    ceil or floor L / PP layers, as the cost model's busiest stage) is the split the rules check.
    """
    base, extra = divmod(num_layers, pp)
    ranges, first = [], 0
    for stage in range(pp):
        size = base + (1 if stage < extra else 0)
        ranges.append((first, first + size - 1))
        first += size
    return ranges


def _stage_without_type(sliding: tuple[bool, ...], pp: int) -> tuple[int, int, int, str] | None:
    """Returns (stage, first, last, the one type it holds) of the first stage lacking an attention type, or None."""
    if pp > len(sliding):
        return None  # an empty stage: the layer-count rule's
    for stage, (first, last) in enumerate(stage_layer_ranges(len(sliding), pp)):
        kinds = set(sliding[first:last + 1])
        if len(kinds) < 2:
            return stage, first, last, "sliding-window" if kinds == {True} else "global"
    return None


def _pp_attention_types(ctx: _Context) -> RuleResult | None:
    """Furiosa LLM 2026.4: a hybrid-attention model needs a layer of each attention type on every PP rank
    (../shared/reference/furiosa-llm.md, section 2, the 2026.4 row: "hybrid-attention models need >= 1
    layer of each attention type per rank"). Models with one attention type are left to `pp_layers`."""
    sliding = ctx.model.sliding_layers
    if not ctx.space.pp_each_attention_type or not sliding or all(sliding) or not any(sliding):
        return None
    lacking = {int(p): _stage_without_type(sliding, int(p)) for p in np.unique(ctx.pp)}
    local, layers = sum(sliding), len(sliding)

    def explain(i: int) -> str:
        stage, first, last, kind = lacking[int(ctx.pp[i])]
        return (f"PP {int(ctx.pp[i])}: stage {stage + 1} holds layers {first}-{last}, only {kind} attention; "
                f"{ctx.space.name} needs a sliding-window and a global layer on every stage of a hybrid-attention "
                f"model ({local} sliding-window and {layers - local} global layers)")
    return RuleResult(rule_id="pp_attention_types",
                      description="every pipeline stage holds a sliding-window and a global attention layer",
                      violated=np.array([lacking[int(p)] is not None for p in ctx.pp], dtype=bool), explain=explain)


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
    # Under attention data parallel the heads are split over the attention TP group only (TP / ADP GPUs):
    # vLLM checks heads % --tensor-parallel-size, which is that group once --data-parallel-size is attention DP.
    attention_tp = np.maximum(ctx.tp // ctx.adp, 1)

    def explain(i: int) -> str:
        if int(ctx.adp[i]) > 1:
            return (f"attention TP {int(attention_tp[i])} (TP {int(ctx.tp[i])} / attention DP {int(ctx.adp[i])}) "
                    f"does not divide the {heads} attention heads")
        return f"TP {int(ctx.tp[i])} does not divide the {heads} attention heads"

    description = (f"attention TP (TP / attention DP) divides the {heads} attention heads" if ctx.moe_rows
                   else f"TP divides the {heads} attention heads")
    return RuleResult(rule_id="tp_divides_heads", description=description,
                      violated=heads % attention_tp != 0, explain=explain)


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


def _moe_model(ctx: _Context) -> RuleResult | None:
    if not ctx.moe_rows:
        return None
    model = ctx.model
    violated = ~np.full(len(ctx.tp), model.is_moe) & ((ctx.ep > 1) | (ctx.adp > 1))

    def explain(i: int) -> str:
        return (f"EP {int(ctx.ep[i])}, attention DP {int(ctx.adp[i])}: {model.name} is dense (no experts), so "
                f"both stay 1")

    return RuleResult(rule_id="moe_model", description="expert parallel and attention DP only for a "
                                                       "mixture-of-experts model",
                      violated=violated, explain=explain)


def _moe_divides_tp(ctx: _Context) -> RuleResult | None:
    if not ctx.moe_rows:
        return None
    violated = (ctx.tp % ctx.ep != 0) | (ctx.tp % ctx.adp != 0)

    def explain(i: int) -> str:
        tp, ep, adp = int(ctx.tp[i]), int(ctx.ep[i]), int(ctx.adp[i])
        bad = [f"{name} {v}" for name, v in (("EP", ep), ("attention DP", adp)) if tp % v]
        return (f"{' and '.join(bad)} do{'es' if len(bad) == 1 else ''} not divide TP {tp}: both split the "
                f"{ctx.units(tp)} of a stage")

    return RuleResult(rule_id="moe_divides_tp", description="EP and attention DP each divide TP",
                      violated=violated, explain=explain)


def _ep_divides_experts(ctx: _Context) -> RuleResult | None:
    if not ctx.moe_rows or not ctx.model.is_moe:
        return None
    experts = ctx.model.num_experts

    def explain(i: int) -> str:
        return (f"EP {int(ctx.ep[i])} does not divide the {experts} routed experts (each expert-parallel "
                f"group holds the same number of whole experts)")

    return RuleResult(rule_id="ep_divides_experts", description=f"EP divides the {experts} routed experts",
                      violated=experts % ctx.ep != 0, explain=explain)


def _moe_rule(ctx: _Context, rule_name: str, rule_id: str, label: str, degrees: np.ndarray) -> RuleResult | None:
    if not ctx.moe_rows:
        return None
    space = ctx.space
    words = space.describe_moe_rule(rule_name)
    violated = ~space.moe_degree_allowed(rule_name, ctx.tp, degrees)
    source = f" ({space.moe_parallel_source})" if space.moe_parallel_source else ""

    def explain(i: int) -> str:
        return (f"{label} {int(degrees[i])} with TP {int(ctx.tp[i])} not run by {space.name}: {label} is "
                f"{words}{source}")

    return RuleResult(rule_id=rule_id, description=f"{label} is {words}", violated=violated, explain=explain)


def _ep_allowed(ctx: _Context) -> RuleResult | None:
    return _moe_rule(ctx, "expert_parallel", "ep_allowed", "EP", ctx.ep)


def _adp_allowed(ctx: _Context) -> RuleResult | None:
    return _moe_rule(ctx, "attention_data_parallel", "adp_allowed", "attention DP", ctx.adp)


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
