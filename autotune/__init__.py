"""autotune: constraint-solving autotuner for LLM inference parallelism."""
__version__ = "0.1.0"
