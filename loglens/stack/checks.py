"""Pre-flight checks for the local stack, as small pure(ish) functions.

Every check either returns a value or raises :class:`StackError` with a message a
person can act on; the CLI prints that message and exits non-zero (no traceback).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

GIB = 1024**3
MIN_JAVA_MAJOR = 17


class StackError(Exception):
    """A failure of the local stack with a message meant for a person."""


# --- tools ----------------------------------------------------------------


def find_tool(name: str, path: str | None = None, hint: str = "") -> str:
    """Absolute path of ``name`` on ``path`` (default: $PATH) or a StackError."""
    found = shutil.which(name, path=path)
    if found is None:
        extra = f" {hint}" if hint else ""
        raise StackError(f"`{name}` was not found on PATH.{extra}")
    return found


def parse_java_major(version_output: str) -> int:
    """Major version from ``java -version`` output.

    Handles ``openjdk version "17.0.15" ...``, ``java version "1.8.0_292"`` (-> 8),
    ``openjdk version "21" ...`` and ``openjdk version "11-ea"``.
    """
    m = re.search(r'version "([^"]+)"', version_output)
    if m is None:
        # Some builds print `openjdk 17.0.2 2022-01-18` (java --version style).
        m = re.search(r"^(?:openjdk|java)\s+(\d[\w.+-]*)", version_output, re.MULTILINE)
    if m is None:
        raise StackError(f"could not parse the Java version from: {version_output.strip()[:200]!r}")
    version = m.group(1)
    parts = re.split(r"[._+-]", version)
    try:
        first = int(parts[0])
        if first == 1 and len(parts) > 1:
            return int(parts[1])
        return first
    except ValueError as exc:
        raise StackError(f"could not parse the Java version {version!r}") from exc


def check_java_major(version_output: str, minimum: int = MIN_JAVA_MAJOR) -> int:
    """Parse ``java -version`` output and fail when the major version is too old."""
    major = parse_java_major(version_output)
    if major < minimum:
        raise StackError(
            f"Java {major} found, but Kafka and OpenSearch 2.19 need Java {minimum} or newer "
            f"(install e.g. openjdk-{minimum}-jdk-headless and put it first on PATH)."
        )
    return major


def java_version_output(java: str) -> str:
    try:
        res = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    except OSError as exc:
        raise StackError(f"could not run `{java} -version`: {exc}") from exc
    return res.stderr + res.stdout


def check_java(path: str | None = None, minimum: int = MIN_JAVA_MAJOR) -> tuple[str, int]:
    """Find ``java`` on PATH and check its version; returns (path, major)."""
    java = find_tool("java", path, hint=f"Install a JDK {minimum}+ (e.g. openjdk-17-jdk-headless).")
    major = check_java_major(java_version_output(java), minimum)
    return java, major


def java_home(java: str) -> Path:
    """JAVA_HOME of the given ``java`` binary (resolves /usr/bin/java symlinks)."""
    env = os.environ.get("JAVA_HOME")
    if env and (Path(env) / "bin" / "java").exists():
        real_env = (Path(env) / "bin" / "java").resolve()
        if real_env == Path(java).resolve():
            return Path(env)
    return Path(java).resolve().parent.parent


# --- disk -----------------------------------------------------------------


def _existing_ancestor(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(_existing_ancestor(path)).free


def check_disk(path: Path, need_bytes: int) -> int:
    """Fail when the file system holding ``path`` (or its nearest existing parent)
    has less than ``need_bytes`` free; returns the free bytes."""
    free = free_bytes(path)
    if free < need_bytes:
        raise StackError(
            f"not enough disk space for {path}: {free / GIB:.1f} GiB free, "
            f"need at least {need_bytes / GIB:.1f} GiB (free some space or point "
            f"LOGLENS_CACHE_DIR / LOGLENS_STATE_DIR elsewhere)."
        )
    return free


# --- addresses & ports ----------------------------------------------------


def parse_host_port(address: str, default_port: int) -> tuple[str, int]:
    """``"127.0.0.1:9092"`` -> ("127.0.0.1", 9092); first entry of a comma list."""
    first = address.split(",")[0].strip()
    if "://" in first:
        first = first.split("://", 1)[1]
    if first.startswith("["):
        host, _, rest = first[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port else default_port
    host, sep, port = first.rpartition(":")
    if not sep:
        return first or "127.0.0.1", default_port
    return host or "127.0.0.1", int(port)


def parse_url_port(url: str, default_port: int = 9200) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class PortHolder:
    port: int
    pid: int | None
    name: str
    cmdline: str

    def describe(self) -> str:
        if self.pid is None:
            return f"port {self.port} is in use by an unknown process ({self.name})"
        cmd = f": {self.cmdline[:160]}" if self.cmdline else ""
        return f"port {self.port} is in use by pid {self.pid} ({self.name}){cmd}"


def _listening_inodes(port: int, proc_root: Path) -> set[str]:
    """Socket inodes listening on ``port`` from /proc/net/tcp{,6}."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        path = proc_root / "net" / table
        try:
            lines = path.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A":  # TCP_LISTEN
                continue
            try:
                lport = int(local.rsplit(":", 1)[1], 16)
            except (IndexError, ValueError):
                continue
            if lport == port and inode != "0":
                inodes.add(inode)
    return inodes


def _proc_name(pid: int, proc_root: Path) -> tuple[str, str]:
    try:
        name = (proc_root / str(pid) / "comm").read_text().strip()
    except OSError:
        name = "?"
    try:
        raw = (proc_root / str(pid) / "cmdline").read_bytes()
        cmdline = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
    except OSError:
        cmdline = ""
    return name, cmdline


def _holder_from_ss(port: int) -> PortHolder | None:
    ss = shutil.which("ss")
    if ss is None:
        return None
    try:
        out = subprocess.run(
            [ss, "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'users:\(\("([^"]+)",pid=(\d+)', out)
    if m:
        pid = int(m.group(2))
        _, cmdline = _proc_name(pid, Path("/proc"))
        return PortHolder(port, pid, m.group(1), cmdline)
    if out.strip():
        return PortHolder(port, None, "see `ss -ltnp`", "")
    return None


def find_port_holder(port: int, proc_root: Path = Path("/proc")) -> PortHolder | None:
    """Who listens on TCP ``port``: scans /proc/net/tcp{,6} then /proc/*/fd.

    Falls back to ``ss -ltnp``; returns None when nothing listens.
    """
    inodes = _listening_inodes(port, proc_root)
    if not inodes:
        return _holder_from_ss(port) if proc_root == Path("/proc") else None
    targets = {f"socket:[{i}]" for i in inodes}
    try:
        pids = [int(p.name) for p in proc_root.iterdir() if p.name.isdigit()]
    except OSError:
        pids = []
    for pid in sorted(pids):
        fd_dir = proc_root / str(pid) / "fd"
        try:
            fds = list(fd_dir.iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link in targets:
                name, cmdline = _proc_name(pid, proc_root)
                return PortHolder(port, pid, name, cmdline)
    return _holder_from_ss(port) or PortHolder(port, None, "not visible in /proc", "")


def check_port_free(port: int, service: str, own_pid: int | None = None) -> None:
    """Fail when something other than ``own_pid`` listens on ``port``."""
    holder = find_port_holder(port)
    if holder is None:
        return
    if own_pid is not None and holder.pid == own_pid:
        return
    raise StackError(
        f"cannot start {service}: {holder.describe()}. Stop that process or change the "
        f"port (LOGLENS_KAFKA_BOOTSTRAP / LOGLENS_OPENSEARCH_URL)."
    )


# --- processes ------------------------------------------------------------


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        state = stat.rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def pid_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def stop_pid(pid: int, timeout: float = 30.0) -> bool:
    """SIGTERM ``pid``, wait up to ``timeout`` s, then SIGKILL. True if it was running."""
    if not pid_alive(pid):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    return True


def tail_lines(path: Path, n: int = 30) -> list[str]:
    """Last ``n`` lines of a text file (empty list when missing)."""
    if n <= 0:
        return []
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            block = 64 * 1024
            data = b""
            pos = size
            while pos > 0 and data.count(b"\n") <= n:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except OSError:
        return []
    lines = data.decode(errors="replace").splitlines()
    return lines[-n:]
