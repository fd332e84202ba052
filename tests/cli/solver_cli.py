"""Running the real `python -m autotune` entry point for the solver commands' CLI tests."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


def autotune(*args: str, timeout: float = 120) -> Run:
    """Returns the exit code, stdout and stderr of `python -m autotune ARGS` run from the repository."""
    done = subprocess.run([sys.executable, "-m", "autotune", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    return Run(done.returncode, done.stdout, done.stderr)
