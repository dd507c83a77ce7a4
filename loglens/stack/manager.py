"""Synchronous Python API of the local stack: :func:`up`, :func:`down`, :func:`status`.

``up`` is idempotent: a server whose recorded pid is alive and whose port answers is
reused; one that is still starting is waited for; otherwise it is started. ``down``
stops exactly the processes recorded in the pid files. Failures raise
:class:`~loglens.stack.checks.StackError` with a message meant for a person.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loglens.config import Settings
from loglens.progress import Progress
from loglens.stack import artifacts, kafka, opensearch
from loglens.stack.checks import (
    GIB,
    StackError,
    check_disk,
    check_java,
    check_port_free,
    java_home,
    pid_alive,
    pid_cmdline,
    stop_pid,
)

SERVERS = ("kafka", "opensearch")
STATE_DISK_BYTES = 1 * GIB
_REASON_RE = re.compile(r"(ERROR|FATAL|Exception|Error:|bootstrap check|refusing|Address already in use)")


def _say(enabled: bool, msg: str) -> None:
    if enabled:
        print(f"[stack] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """Serialise up/down of the same state_dir (parallel test workers, two shells)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with (settings.state_dir / "stack.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --- per-server view ----------------------------------------------------------


@dataclass
class ServerState:
    name: str
    pid: int | None  # recorded pid if that process is alive and is our server
    port: int
    listening: bool

    @property
    def state(self) -> str:
        if self.pid is not None and self.listening:
            return "running"
        if self.pid is not None:
            return "starting"
        return "stopped"


def _main_class(name: str) -> str:
    return kafka.MAIN_CLASS if name == "kafka" else opensearch.MAIN_CLASS


def _pid_file(settings: Settings, name: str) -> Path:
    return kafka.paths(settings).pid_file if name == "kafka" else opensearch.paths(settings).pid_file


def _log_file(settings: Settings, name: str) -> Path:
    return kafka.paths(settings).log_file if name == "kafka" else opensearch.paths(settings).log_file


def _ours(pid: int, name: str) -> bool:
    """Is ``pid`` alive and our server (guards against pid reuse after a reboot)?"""
    if not pid_alive(pid):
        return False
    cmd = pid_cmdline(pid)
    # While launching, the pid is briefly setpriv / the bin/opensearch shell script.
    return _main_class(name) in cmd or (name == "opensearch" and "opensearch" in cmd)


def server_state(settings: Settings, name: str) -> ServerState:
    mod_pid = kafka.recorded_pid(settings) if name == "kafka" else opensearch.recorded_pid(settings)
    pid = mod_pid if mod_pid is not None and _ours(mod_pid, name) else None
    if name == "kafka":
        _, port = kafka.address(settings)
        is_listening = kafka.listening(settings)
    else:
        _, port = opensearch.address(settings)
        is_listening = opensearch.listening(settings)
    return ServerState(name, pid, port, is_listening)


def _ports(settings: Settings, name: str) -> list[int]:
    if name == "kafka":
        _, port = kafka.address(settings)
        return [port, kafka.controller_port(port)]
    _, port = opensearch.address(settings)
    return [port, opensearch.transport_port(port)]


# --- start-up waiting ---------------------------------------------------------


def _died_message(settings: Settings, name: str, code: int | None) -> str:
    lines = kafka.log_tail(settings, 30) if name == "kafka" else opensearch.log_tail(settings, 30)
    reasons = [ln.strip() for ln in lines if _REASON_RE.search(ln)]
    reason = reasons[0] if reasons else "see the log below"
    exit_part = f"exit code {code}" if code is not None else "process gone"
    body = "\n".join("    " + ln for ln in lines) or "    (log is empty)"
    return (
        f"{name} died during start-up ({exit_part}). Reason: {reason}\n"
        f"Last lines of {_log_file(settings, name)}:\n{body}"
    )


def _wait_ready(
    settings: Settings,
    name: str,
    proc: subprocess.Popen[bytes] | None,
    pid: int,
    check: Callable[[], tuple[bool, str]],
    show: bool,
) -> float:
    """Poll ``check`` until it says ready; fail early if the process dies. Returns seconds."""
    timeout = settings.stack_timeout_s
    start = time.monotonic()
    last = "not checked yet"
    with Progress(f"waiting for {name}", total=timeout, unit="s", enabled=show) as bar:
        while True:
            elapsed = time.monotonic() - start
            bar.set(elapsed)
            code = proc.poll() if proc is not None else None
            if (proc is not None and code is not None) or (proc is None and not pid_alive(pid)):
                bar.close(ok=False)
                bar.enabled = False
                raise StackError(_died_message(settings, name, code))
            ok, last = check()
            if ok:
                return time.monotonic() - start
            if elapsed > timeout:
                bar.close(ok=False)
                bar.enabled = False
                tail = "\n".join("    " + ln for ln in _log_lines(settings, name, 30))
                raise StackError(
                    f"{name} (pid {pid}) was not ready after {timeout:.0f}s "
                    f"(LOGLENS_STACK_TIMEOUT_S); last check: {last}. It is left running; "
                    f"see `loglens stack logs {name}`. Last lines of its log:\n{tail}"
                )
            time.sleep(0.5)


def _log_lines(settings: Settings, name: str, n: int) -> list[str]:
    return kafka.log_tail(settings, n) if name == "kafka" else opensearch.log_tail(settings, n)


def _kafka_check(settings: Settings) -> Callable[[], tuple[bool, str]]:
    def check() -> tuple[bool, str]:
        if not kafka.listening(settings):
            return False, f"port {kafka.address(settings)[1]} not answering"
        try:
            kafka.probe(settings, timeout_s=10.0)
        except Exception as exc:
            return False, f"probe failed: {type(exc).__name__}: {exc}"
        return True, "probe record produced and consumed"

    return check


def _opensearch_check(settings: Settings) -> Callable[[], tuple[bool, str]]:
    def check() -> tuple[bool, str]:
        if not opensearch.listening(settings):
            return False, f"port {opensearch.address(settings)[1]} not answering"
        return opensearch.ready(settings)

    return check


@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    """aiokafka logs every refused connection while the broker boots; hide that noise."""
    logger = logging.getLogger("aiokafka")
    old = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(old)


# --- hook -----------------------------------------------------------------------


def install_index_templates_hook(settings: Settings) -> bool:
    """Call ``loglens.indices.install_index_templates_sync(settings)`` if it exists.

    Only a missing module/function is tolerated; an error raised by the call fails ``up``.
    Returns whether the hook ran.
    """
    try:
        module = importlib.import_module("loglens.indices")
    except ImportError:
        return False
    func = getattr(module, "install_index_templates_sync", None)
    if func is None:
        return False
    try:
        func(settings)
    except Exception as exc:
        raise StackError(f"installing the index templates failed: {type(exc).__name__}: {exc}") from exc
    return True


# --- API ------------------------------------------------------------------------


def up(settings: Settings, progress: bool = True) -> None:
    """Start (or reuse) Kafka and OpenSearch, create topics, wait until both are ready."""
    with _locked(settings), _quiet_aiokafka():
        _up(settings, progress)


def _up(settings: Settings, show: bool) -> None:
    t0 = time.monotonic()
    java, major = check_java()
    states = {name: server_state(settings, name) for name in SERVERS}
    to_start = [n for n in SERVERS if states[n].state == "stopped"]

    for name in SERVERS:
        st = states[name]
        if st.state == "running":
            _say(show, f"{name}: reusing running pid {st.pid} on port {st.port}")
        elif st.state == "starting":
            _say(show, f"{name}: pid {st.pid} is still starting; waiting for it")
        else:
            _pid_file(settings, name).unlink(missing_ok=True)  # stale, if any
            for port in _ports(settings, name):
                check_port_free(port, name)

    libs: Path | None = None
    home: Path | None = None
    jhome = java_home(java)
    log_dir = settings.state_dir / "logs"
    if to_start:
        check_disk(settings.state_dir, STATE_DISK_BYTES)
        _say(show, f"java {major} at {java}; artifacts in {settings.cache_dir}")
    if "kafka" in to_start:
        libs = artifacts.fetch(
            artifacts.kafka_artifacts(settings.cache_dir, settings.kafka_version), log_dir, show
        )
    if "opensearch" in to_start:
        os_set, knn_set = artifacts.opensearch_artifacts(settings.cache_dir, settings.opensearch_version)
        os_dir = artifacts.fetch(os_set, log_dir, show)
        knn_dir = artifacts.fetch(knn_set, log_dir, show)
        modules = {
            m.dest.name: artifacts.fetch(m, log_dir, show)
            for m in artifacts.opensearch_module_artifacts(settings.cache_dir, settings.opensearch_version)
        }
        with Progress(
            "install opensearch + modules + k-NN plugin", total=1, unit="steps", enabled=show
        ) as bar:
            home = opensearch.ensure_install(
                settings, os_dir / os_set.expect[0], knn_dir / knn_set.expect[0], modules, jhome
            )
            bar.update(1)

    procs: dict[str, subprocess.Popen[bytes]] = {}
    if libs is not None:
        procs["kafka"] = kafka.start(java, libs, settings)
        _say(show, f"kafka: started pid {procs['kafka'].pid} (log {kafka.paths(settings).log_file})")
    if home is not None:
        procs["opensearch"] = opensearch.start(settings, jhome)
        _say(
            show,
            f"opensearch: started pid {procs['opensearch'].pid} (log {opensearch.paths(settings).log_file})",
        )

    kpid = procs["kafka"].pid if "kafka" in procs else states["kafka"].pid
    if "kafka" in procs or states["kafka"].state == "starting":
        assert kpid is not None
        secs = _wait_ready(settings, "kafka", procs.get("kafka"), kpid, _kafka_check(settings), show)
        _say(show, f"kafka: ready after {secs:.1f}s")
    topics = kafka.ensure_topics(settings)
    _say(show, "kafka: topics " + ", ".join(f"{t} ({n} partitions)" for t, n in sorted(topics.items())))

    opid = procs["opensearch"].pid if "opensearch" in procs else states["opensearch"].pid
    assert opid is not None
    check = _opensearch_check(settings)
    if "opensearch" in procs or states["opensearch"].state == "starting":
        secs = _wait_ready(settings, "opensearch", procs.get("opensearch"), opid, check, show)
        _say(show, f"opensearch: ready after {secs:.1f}s")
    else:
        ok, why = check()
        if not ok:
            raise StackError(f"opensearch pid {opid} is running but not ready: {why}")

    if install_index_templates_hook(settings):
        _say(show, "index templates installed (loglens.indices)")
    _say(show, f"stack up in {time.monotonic() - t0:.1f}s")


def down(settings: Settings, wipe: bool = False, progress: bool = False) -> dict[str, str]:
    """Stop the recorded processes (SIGTERM, wait, SIGKILL); ``wipe`` deletes data dirs.

    Returns {server: what happened} for printing.
    """
    result: dict[str, str] = {}
    with _locked(settings):
        threads: list[threading.Thread] = []
        for name in SERVERS:
            pid_file = _pid_file(settings, name)
            pid = kafka.recorded_pid(settings) if name == "kafka" else opensearch.recorded_pid(settings)
            if pid is None:
                result[name] = "not running (no pid file)"
                continue
            if not pid_alive(pid):
                result[name] = f"not running (stale pid {pid})"
                pid_file.unlink(missing_ok=True)
                continue
            if not _ours(pid, name):
                result[name] = f"pid {pid} is not a {name} process any more; left alone"
                pid_file.unlink(missing_ok=True)
                continue

            def stop(name: str = name, pid: int = pid, pid_file: Path = pid_file) -> None:
                stop_pid(pid, timeout=60.0)
                pid_file.unlink(missing_ok=True)
                result[name] = f"stopped pid {pid}"

            _say(progress, f"{name}: stopping pid {pid}")
            t = threading.Thread(target=stop, name=f"stop-{name}")
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        if wipe:
            for d in (kafka.paths(settings).data, opensearch.paths(settings).data):
                if d.exists():
                    shutil.rmtree(d)
            result["wipe"] = "deleted kafka and opensearch data dirs"
    return result


def status(settings: Settings) -> dict[str, Any]:
    """{"kafka": {...}, "opensearch": {...}, "all_up": bool}; each server has
    state (running/starting/stopped), pid, port, health."""
    out: dict[str, Any] = {}
    for name in SERVERS:
        st = server_state(settings, name)
        health = "-"
        if st.listening:
            if name == "kafka":
                try:
                    with _quiet_aiokafka():
                        topics = kafka.describe_topics(settings, [settings.topic, settings.dlq_topic])
                    health = "ok; " + (
                        ", ".join(f"{t}:{n}p" for t, n in sorted(topics.items())) or "topics missing"
                    )
                except Exception as exc:
                    health = f"unreachable: {type(exc).__name__}"
            else:
                try:
                    health = opensearch.health(settings)
                except StackError as exc:
                    health = f"unreachable: {exc}"
        elif st.pid is None and not st.listening:
            health = "-"
        if st.listening and st.pid is None:
            state = "foreign"  # port answers but not a process we recorded
        else:
            state = st.state
        out[name] = {
            "state": state,
            "pid": st.pid,
            "port": st.port,
            "health": health,
            "log": str(_log_file(settings, name)),
        }
    out["all_up"] = all(
        out[n]["state"] == "running" and not str(out[n]["health"]).startswith(("unreachable", "red"))
        for n in SERVERS
    )
    return out
