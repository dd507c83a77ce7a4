"""Background processes started by ``loglens up`` (consumer, AI service, demo traffic).

Each gets a pid file and a log file under ``<state_dir>/run``; ``loglens down`` stops
exactly the pids it recorded, nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from loglens.config import Settings
from loglens.stack.checks import pid_alive, stop_pid, tail_lines
from loglens.stack.checks import read_pid as read_pid_file


def run_dir(settings: Settings) -> Path:
    path = settings.state_dir / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_pid(settings: Settings, name: str) -> int | None:
    """The recorded pid of ``name`` if that process still runs."""
    pid = read_pid_file(run_dir(settings) / f"{name}.pid")
    return pid if pid is not None and pid_alive(pid) else None


def start_background(
    settings: Settings, name: str, argv: list[str], env: dict[str, str] | None = None
) -> int:
    """Start ``argv`` detached with output to ``<run>/<name>.log``; reuse it if already running."""
    existing = read_pid(settings, name)
    if existing is not None:
        return existing
    directory = run_dir(settings)
    log_path = directory / f"{name}.log"
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            argv,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    (directory / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def stop_background(settings: Settings, name: str, timeout: float = 15.0) -> bool:
    """SIGTERM, wait, then SIGKILL the recorded pid. True if something was stopped."""
    pid = read_pid(settings, name)
    (run_dir(settings) / f"{name}.pid").unlink(missing_ok=True)
    return pid is not None and stop_pid(pid, timeout=timeout)


def python_module_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(tail_lines(path, lines))
