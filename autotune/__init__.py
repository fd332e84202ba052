"""autotune: constraint-solving autotuner for LLM inference parallelism."""
__version__ = "0.1.0"

#: The public API (`autotune.api`), loaded on first use so that `import autotune` stays cheap.
_API_NAMES = ("Workload", "enumerate_candidates", "estimate", "import_bench", "load_hardware", "load_model", "load_space",
              "pareto", "recommend", "sweep")

__all__ = ["__version__", *_API_NAMES, "plan", "simulate"]


def __getattr__(name: str):
    if name in _API_NAMES:
        from autotune import api
        return getattr(api, name)
    if name == "simulate":
        from autotune.serving_api import simulate
        return simulate
    if name == "plan":
        from autotune.solver.planning import plan
        return plan
    raise AttributeError(f"module 'autotune' has no attribute {name!r}")
