"""A private nginx (TLS, own prefix, free high ports on 127.0.0.1) in front of blue/green AI service
slots driven by scripts/switch.sh. Shared by tests/e2e/test_blue_green.py and bench/bench_switch.py.

Nothing here touches the system nginx: the config is rendered from nginx/nginx.conf.template with
pid, logs and temp dirs under the given directory, and only the master started here is signalled.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from loglens.config import Settings
from tests.conftest import free_port, service_env

ROOT = Path(__file__).resolve().parents[2]
SWITCH = ROOT / "scripts" / "switch.sh"
RENDER = ROOT / "scripts" / "render_nginx.sh"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def port_listening(port: int) -> bool:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
    return bool(out.strip())


@dataclass
class BlueGreen:
    dir: Path
    env: dict[str, str]
    https: str
    http_port: int
    https_port: int
    nginx_argv: list[str]
    master_pid: int | None = None

    # -- set-up / tear-down ------------------------------------------------------------------------
    @classmethod
    def create(cls, d: Path, settings: Settings, nginx: str, **switch_env: str) -> BlueGreen:
        """Certificate, rendered config, upstream include naming blue, nginx started (no slot yet)."""
        (d / "tls").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(d / "tls" / "key.pem"), "-out", str(d / "tls" / "cert.pem")],
            check=True, capture_output=True,
        )  # fmt: skip
        http_port, https_port, status_port, blue_port, green_port = (free_port() for _ in range(5))
        conf = d / "nginx.conf"
        render_env = dict(
            os.environ,
            NGINX_WORKER_PROCESSES="2",
            NGINX_RUN_DIR=str(d / "run"),
            NGINX_LOG_DIR=str(d / "logs"),
            NGINX_TEMP_DIR=str(d / "temp"),
            NGINX_UPSTREAM_FILE=str(d / "upstreams" / "live.conf"),
            NGINX_HTTP_LISTEN=f"127.0.0.1:{http_port}",
            NGINX_HTTPS_LISTEN=f"127.0.0.1:{https_port}",
            NGINX_HTTPS_PORT_SUFFIX=f":{https_port}",
            NGINX_STATUS_LISTEN=f"127.0.0.1:{status_port}",
            NGINX_TLS_CERT=str(d / "tls" / "cert.pem"),
            NGINX_TLS_KEY=str(d / "tls" / "key.pem"),
        )
        subprocess.run([str(RENDER), str(conf)], env=render_env, check=True, capture_output=True)
        nginx_argv = [nginx, "-p", str(d), "-c", str(conf)]
        env = service_env(
            settings,
            LOGLENS_STATE_DIR=str(d / "state"),
            LOGLENS_NGINX_UPSTREAM_FILE=str(d / "upstreams" / "live.conf"),
            LOGLENS_NGINX_CMD=" ".join(nginx_argv),
            LOGLENS_NGINX_URL=f"https://127.0.0.1:{https_port}",
            LOGLENS_BLUE_PORT=str(blue_port),
            LOGLENS_GREEN_PORT=str(green_port),
            LOGLENS_PYTHON=sys.executable,
            LOGLENS_READY_TIMEOUT="90",
            LOGLENS_DRAIN_SECONDS="1",
            LOGLENS_DRAIN_TIMEOUT="30",
            # The per-client rate limit (60/min) would turn this load into 429s; it is not what is measured.
            LOGLENS_RATE_LIMIT_PER_MIN="0",
        )
        for key in ("LOGLENS_API_PORT", "LOGLENS_SLOT", "LOGLENS_BUILD"):
            env.pop(key, None)
        env.update(switch_env)
        bg = cls(d, env, f"https://127.0.0.1:{https_port}", http_port, https_port, nginx_argv)
        init = bg.switch("init-upstream", "blue")
        if init.returncode != 0:
            raise RuntimeError(init.stderr)
        subprocess.run([*nginx_argv, "-t"], check=True, capture_output=True)
        subprocess.run(nginx_argv, check=True, capture_output=True)  # daemonizes; pid in run/nginx.pid
        bg.master_pid = int((d / "run" / "nginx.pid").read_text())
        return bg

    def close(self) -> None:
        """Stop the slots switch.sh started (by their pid files) and this nginx master (by its pid)."""
        pids = [p for p in (self.slot_pid("blue"), self.slot_pid("green")) if p is not None]
        for pid in pids:
            _signal(pid, signal.SIGTERM)
        if self.master_pid is not None:
            _signal(self.master_pid, signal.SIGQUIT)  # graceful stop
            _wait_gone(self.master_pid, 10)
        for pid in pids:
            if not _wait_gone(pid, 15):
                _signal(pid, signal.SIGKILL)

    # -- actions -------------------------------------------------------------------------------------
    def switch(self, *args: str, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SWITCH), *args],
            env=dict(self.env, **extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )

    def popen_switch(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(SWITCH), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )

    def version(self) -> dict[str, str]:
        r = httpx.get(f"{self.https}/version", verify=False, timeout=10)
        r.raise_for_status()
        body: dict[str, str] = r.json()
        return body

    def state(self) -> dict[str, str]:
        path = self.dir / "state" / "state"
        return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)

    def slot_pid(self, slot: str) -> int | None:
        path = self.dir / "state" / f"{slot}.pid"
        return int(path.read_text()) if path.exists() else None

    def port(self, slot: str) -> int:
        return int(self.env[f"LOGLENS_{slot.upper()}_PORT"])

    def access_log(self) -> list[str]:
        path = self.dir / "logs" / "access.log"
        return path.read_text().splitlines() if path.exists() else []


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
