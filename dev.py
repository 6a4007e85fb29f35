#!/usr/bin/env python3
"""Bootstrap and run prepay with nothing installed but Python 3.11+.

    python3 dev.py serve      # install, then run the service (SQLite + local RabbitMQ)
    python3 dev.py test       # install, then run the whole test suite
    python3 dev.py check      # install, then ruff + mypy
    python3 dev.py prepay ... # any prepay CLI command

The first call creates `.venv`, installs uv into it and syncs the locked dependencies
(`uv.lock`); later calls only re-sync, which is a no-op when nothing changed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
UV_VERSION = "0.13.9"


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def ensure_environment() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be run by an older python3
        sys.exit(f"prepay needs Python >= 3.11, this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        run(sys.executable, "-m", "venv", VENV)
    if not (BIN / "uv").exists():
        run(BIN / "python", "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}")
    # --inexact keeps uv itself, which lives in the same environment but not in the lock.
    env_sync = [BIN / "uv", "sync", "--frozen", "--inexact", "--quiet"]
    subprocess.run(
        [str(a) for a in env_sync],
        cwd=ROOT,
        check=True,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(VENV)},
    )


def enable_broker_plugin() -> None:
    """Orders are sharded by RabbitMQ's consistent-hash exchange, a plugin that ships with the
    broker but is off by default. Enable it when the broker runs here (best effort: the
    service says plainly if it is still missing)."""
    if shutil.which("rabbitmq-plugins"):
        subprocess.run(
            ["rabbitmq-plugins", "enable", "--quiet", "rabbitmq_consistent_hash_exchange"],
            check=False,
            capture_output=True,
        )


def main(argv: list[str]) -> int:
    command, rest = (argv[0], argv[1:]) if argv else ("test", [])
    ensure_environment()
    if command == "test":
        # Branch coverage of the pure domain is part of the bar (>= 95 %).
        coverage = ["--cov=workflows", "--cov-branch", "--cov-report=term-missing:skip-covered"]
        gate = [] if rest else ["--cov-fail-under=95"]
        args = [BIN / "python", "-m", "pytest", *coverage, *gate, *rest]
    elif command == "check":
        run(BIN / "ruff", "check", ".")
        run(BIN / "ruff", "format", "--check", ".")
        args = [BIN / "mypy"]
    elif command == "serve":
        enable_broker_plugin()
        args = [BIN / "prepay", "serve", *rest]
    elif command == "prepay":
        args = [BIN / "prepay", *rest]
    else:
        sys.exit(f"unknown command {command!r}: use serve, test, check or prepay")
    return subprocess.call([str(a) for a in args], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
