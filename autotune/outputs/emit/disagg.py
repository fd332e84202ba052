"""Settings of a disaggregated recommendation (`--emit`): per pool, with its role, and the KV transfer as each
engine names it.

Flag names read in the engines' argument parsers and documentation (the tests hold the lists below):
- vLLM: `vllm serve ... --kv-transfer-config JSON` (vllm/engine/arg_utils.py EngineArgs.kv_transfer_config,
  the KVTransferConfig of vllm/config/kv_transfer.py with fields `kv_connector` and `kv_role` in kv_producer,
  kv_consumer, kv_both). With `NixlConnector` both instances run `"kv_role": "kv_both"` (docs.vllm.ai
  features/nixl_connector_usage: the prefiller and the decoder are started alike, a proxy in front sends each
  request to a prefiller with max_tokens 1, then to a decoder); `--port` (vllm serve, default 8000).
- SGLang: `python -m sglang.launch_server ... --disaggregation-mode prefill|decode
  --disaggregation-transfer-backend mooncake|nixl` (python/sglang/srt/server_args.py ServerArgs
  disaggregation_mode, disaggregation_transfer_backend; docs.sglang.io advanced_features/pd_disaggregation),
  `--disaggregation-bootstrap-port` (default 8998; each prefill server on one host needs its own), `--port`;
  the router `python -m sglang_router.launch_router --pd-disaggregation --prefill URL BOOTSTRAP_PORT --decode URL`
  (same page; sgl-project/sglang sgl-router README).
- TensorRT-LLM: each server `trtllm-serve MODEL ... --port P --extra_llm_api_options FILE` whose options hold
  `cache_transceiver_config: {backend: ...}` (context servers also `disable_overlap_scheduler: true`), and the
  front end `trtllm-serve disaggregated -c disagg_config.yaml` reading `hostname`, `port`, `backend`,
  `context_servers` and `generation_servers`, each with `num_instances` and `urls` (NVIDIA/TensorRT-LLM
  examples/disaggregated/README.md; nvidia.github.io/TensorRT-LLM features/disagg-serving;
  tensorrt_llm/commands/serve.py `disaggregated`).
- Furiosa LLM 2026.4: `furiosa-llm serve` has `--experimental-kv-transfer-config` and `LLM(...,
  kv_transfer_config=)` (../shared/reference/furiosa-llm-signatures.json, 2026.4.0), but the JSON it takes is
  not documented: the per-pool build and serve commands are emitted and the flag is named in a comment only.
Comment lines carry no quote characters (the output is split with shlex by tests and users).
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

from autotune.outputs.emit.furiosa import wrap_comment
from autotune.outputs.emit.render import ShellCommand
from autotune.parallel_plan import ParallelPlan
from autotune.specs.hardware import counted
from autotune.specs.model import ModelSpec
from autotune.specs.workload import Workload

#: The flags this module adds to each engine's own commands (tests check them against these lists).
VLLM_DISAGG_FLAGS = ("--kv-transfer-config", "--port")
SGLANG_DISAGG_FLAGS = ("--disaggregation-mode", "--disaggregation-transfer-backend",
                       "--disaggregation-bootstrap-port", "--port")
SGLANG_ROUTER_FLAGS = ("--pd-disaggregation", "--prefill", "--decode")
TRTLLM_DISAGG_FLAGS = ("--port", "--extra_llm_api_options", "-c")
TRTLLM_CONFIG_KEYS = ("hostname", "port", "backend", "context_servers", "generation_servers", "num_instances",
                      "urls", "cache_transceiver_config")
FURIOSA_UNDOCUMENTED_FLAG = "--experimental-kv-transfer-config"
#: vLLM's KV connector emitted: NIXL, whose instances all take the kv_both role (module notes).
VLLM_CONNECTOR = {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
#: SGLang's transfer backend emitted (Mooncake is the documented default; NIXL the alternative).
SGLANG_BACKEND = "mooncake"
#: TensorRT-LLM cache transceiver backend (UCX, as the disagg-serving examples run it).
TRTLLM_BACKEND = "UCX"
#: SGLang's default bootstrap port (server_args.py disaggregation_bootstrap_port); prefill replica r takes it + r.
SGLANG_BOOTSTRAP_PORT = 8998
#: First port of each pool's servers (replica r listens on base + r); the front end listens on FRONT_PORT.
POOL_PORTS = {"prefill": 8100, "decode": 8200}
FRONT_PORT = 8000


def shift_cards(text: str, offset: int) -> str:
    """Returns `text` with every RNGD device `npu:C:...` moved to card C + offset (the emitters place from card 0)."""
    return re.sub(r"\bnpu:(\d+):", lambda m: f"npu:{int(m.group(1)) + offset}:", text)


def pool_plan(pool: Mapping[str, Any]) -> ParallelPlan:
    """Returns the ParallelPlan of one pool of a disaggregated recommendation (its replicas are its DP; an MoE
    model's pool states its expert and attention data parallel degrees)."""
    tp, pp, replicas = pool["tensor_parallel_size"], pool["pipeline_parallel_size"], pool["replicas"]
    return ParallelPlan(tensor_parallel_size=tp, pipeline_parallel_size=pp, data_parallel_size=replicas,
                        batch_size=pool["max_num_seqs"], cards_used=pool["devices"], pes_used=tp * pp * replicas,
                        expert_parallel_size=pool.get("expert_parallel_size"),
                        attention_data_parallel_size=pool.get("attention_data_parallel_size"))


def pool_words(pool: Mapping[str, Any]) -> str:
    """Returns one pool's replicas and layout in words: `1 x (TP 8 PP 1)`, `1 x (TP 8 PP 1 EP 8 ADP 8)`."""
    ep, adp = pool.get("expert_parallel_size") or 1, pool.get("attention_data_parallel_size") or 1
    moe = f" EP {ep} ADP {adp}" if (ep, adp) != (1, 1) else ""
    return (f"{pool['replicas']} x (TP {pool['tensor_parallel_size']} PP {pool['pipeline_parallel_size']}"
            f"{moe})")


def _gpu_env(pool: Mapping[str, Any], replica: int, first_gpu: int) -> tuple[tuple[str, str], ...]:
    gpus = pool["tensor_parallel_size"] * pool["pipeline_parallel_size"]
    start = first_gpu + replica * gpus
    return (("CUDA_VISIBLE_DEVICES", ",".join(str(g) for g in range(start, start + gpus))),)


def _one_replica(plan: ParallelPlan) -> ParallelPlan:
    return dataclasses.replace(plan, data_parallel_size=1,
                               cards_used=plan.cards_used // max(plan.data_parallel_size, 1),
                               pes_used=plan.pes_used // max(plan.data_parallel_size, 1))


def pool_commands(fmt: str, *, role: str, pool: Mapping[str, Any], model: ModelSpec, workload: Workload,
                  hardware: object, first_gpu: int, one_machine: bool) -> tuple[ShellCommand, ...]:
    """Returns one server command per replica of a GPU pool, with its role's flags."""
    from autotune.outputs.emit import gpu

    plan = _one_replica(pool_plan(pool))
    out = []
    for r in range(pool["replicas"]):
        port = ("--port", str(POOL_PORTS[role] + r))
        env = _gpu_env(pool, r, first_gpu) if one_machine else ()
        if fmt == "vllm":
            base = gpu.vllm_command(plan=plan, model=model, workload=workload, hardware=hardware)
            extra = (("--kv-transfer-config", json.dumps(VLLM_CONNECTOR, separators=(",", ":"))), port)
        elif fmt == "sglang":
            base = gpu.sglang_command(plan=plan, model=model, workload=workload, hardware=hardware)
            extra = (("--disaggregation-mode", role), ("--disaggregation-transfer-backend", SGLANG_BACKEND))
            if role == "prefill":  # one bootstrap port per prefill server (they may share a host)
                extra += (("--disaggregation-bootstrap-port", str(SGLANG_BOOTSTRAP_PORT + r)),)
            extra += (port,)
        else:
            base = gpu.trtllm_commands(plan=plan, model=model, workload=workload, hardware=hardware)[0]
            base = ShellCommand(words=base.words,
                                options=tuple(o for o in base.options if o[0] != "--extra_llm_api_options"))
            extra = (port, ("--extra_llm_api_options", f"{role}-extra-llm-api-options.yml"))
        out.append(ShellCommand(words=base.words, options=base.options + extra, env=env))
    return tuple(out)


def _trtllm_lines(rec_metrics: Mapping[str, Any], *, workload: Workload, hardware: object) -> list[str]:
    """Returns the options files of both pools and the front end's disagg_config.yaml."""
    from autotune.outputs.emit import gpu

    lines = []
    for role in ("prefill", "decode"):
        plan = pool_plan(rec_metrics[role])
        limits = gpu.trtllm_limits(plan=plan, workload=workload, hardware=hardware)
        options = gpu.trtllm_options_file(workload=workload, limits=limits, plan=plan)
        if role == "prefill":  # the context servers of the disagg-serving examples run without overlap scheduling
            options.append("disable_overlap_scheduler: true")
        options += ["cache_transceiver_config:", f"  backend: {TRTLLM_BACKEND}"]
        lines += [f"cat > {role}-extra-llm-api-options.yml <<'EOF'", *options, "EOF"]
    lines += ["cat > disagg_config.yaml <<'EOF'", "hostname: localhost", f"port: {FRONT_PORT}", "backend: pytorch"]
    for role, key in (("prefill", "context_servers"), ("decode", "generation_servers")):
        pool = rec_metrics[role]
        lines += [f"{key}:", f"  num_instances: {pool['replicas']}", "  urls:"]
        lines += [f'    - "localhost:{POOL_PORTS[role] + r}"' for r in range(pool["replicas"])]
    lines.append("EOF")
    return lines


def render_disagg(fmt: str, *, metrics: Mapping[str, Any], model: ModelSpec, workload: Workload,
                  hardware: object = None, space: object = None, release: str | None = None) -> str:
    """Returns the settings of a disaggregated recommendation in `fmt`, pool by pool, ending in a newline."""
    from autotune.outputs.emit import emit

    prefill, decode = metrics["prefill"], metrics["decode"]
    kv = metrics.get("kv_transfer_ms") or {}
    word = getattr(hardware, "device_name", "device")  # "card" on RNGD, "GPU" on GPUs
    head = [f"# disaggregated: prefill pool {pool_words(prefill)} on {counted(prefill['devices'], word)}, "
            f"decode pool {pool_words(decode)} on {counted(decode['devices'], word)}; KV transfer p90 "
            f"{kv.get('p90', float('nan')):.3g} ms over {metrics.get('kv_link', 'the link')}"]
    if fmt in ("yaml", "json"):
        from autotune.outputs.emit.structured import render_json, render_yaml
        doc = {"mode": "disagg", "kv_transfer_ms": dict(kv), "kv_link": metrics.get("kv_link")}
        for role in ("prefill", "decode"):
            text = emit("json", plan=pool_plan(metrics[role]), model=model, workload=workload, space=space,
                        release=release, hardware=hardware)
            doc[role] = json.loads(text) | {"role": role}
        return render_yaml(doc) if fmt == "yaml" else render_json(doc)
    if fmt == "furiosa":
        lines = head + [f"# Furiosa LLM 2026.4 runs prefill/decode disaggregation at PP 1; serve has "
                        f"{FURIOSA_UNDOCUMENTED_FLAG} (furiosa-llm-signatures.json, 2026.4.0), but the JSON it takes "
                        f"is not documented: set it per pool as Furiosa documents it. Below: each pool built and "
                        f"served on its own cards."]
        per_node = getattr(hardware, "devices_per_node", None)
        shared = per_node is not None and prefill["devices"] + decode["devices"] <= per_node
        if not shared:
            lines.append("# the pools take more cards than one machine: each pool runs on its own machine(s), "
                         "its cards numbered from 0 there")
        out = [w for line in lines for w in wrap_comment(line)]
        for role in ("prefill", "decode"):
            text = emit("furiosa", plan=pool_plan(metrics[role]), model=model, workload=workload, space=space,
                        release=release, hardware=hardware).rstrip("\n")
            if role == "decode" and shared:  # on the machine of the prefill pool: the cards after its cards
                text = shift_cards(text, prefill["devices"])
            out += ["", f"# ===== {role} pool =====", text]
        return "\n".join(out) + "\n"
    if getattr(hardware, "compute_units_per_device", 1) > 1:
        from autotune.errors import InputError
        raise InputError(source="--emit", value=fmt, expected="furiosa, yaml or json for an RNGD plan")
    devices_per_node = getattr(hardware, "devices_per_node", None)
    total = prefill["devices"] + decode["devices"]
    one_machine = devices_per_node is not None and total <= devices_per_node
    lines = list(head)
    if not one_machine:
        lines.append(f"# the pools take {total} GPUs, more than one machine: start each server on its own "
                     f"machine (no CUDA_VISIBLE_DEVICES is given) and point the front end at their hosts")
    if fmt == "vllm":
        lines.append("# NixlConnector: every instance takes kv_role kv_both; a proxy in front sends each request "
                     "to a prefill server with max_tokens 1, then to a decode server (docs.vllm.ai "
                     "features/nixl_connector_usage)")
    out = [w for line in lines for w in wrap_comment(line)]
    if fmt == "trtllm":
        out += _trtllm_lines(metrics, workload=workload, hardware=hardware)
    first = 0
    for role in ("prefill", "decode"):
        pool = metrics[role]
        out.append(f"# {role} pool: {pool['replicas']} server(s), role {role}")
        commands = pool_commands(fmt, role=role, pool=pool, model=model, workload=workload, hardware=hardware,
                                 first_gpu=first, one_machine=one_machine)
        out += [c.render() + " &" for c in commands]
        first += pool["devices"]
    if fmt == "sglang":  # --prefill takes two words, the URL and the bootstrap port
        router = ["python -m sglang_router.launch_router", "    --pd-disaggregation"]
        router += [f"    --prefill http://localhost:{POOL_PORTS['prefill'] + r} {SGLANG_BOOTSTRAP_PORT + r}"
                   for r in range(prefill["replicas"])]
        router += [f"    --decode http://localhost:{POOL_PORTS['decode'] + r}" for r in range(decode["replicas"])]
        out += ["# the router in front", " \\\n".join(router)]
    elif fmt == "trtllm":
        out += ["# the front end", ShellCommand(words=("trtllm-serve", "disaggregated"),
                                                 options=(("-c", "disagg_config.yaml"),)).render()]
    return "\n".join(out) + "\n"
