"""Unit tests of the local-stack checks and helpers (no Kafka/OpenSearch needed)."""

from __future__ import annotations

import os
import socket
import stat
import sys
import types
import zipfile
from pathlib import Path

import pytest

from loglens.config import Settings
from loglens.stack import artifacts, kafka, manager, opensearch
from loglens.stack.checks import (
    GIB,
    StackError,
    check_disk,
    check_java,
    check_java_major,
    check_port_free,
    find_port_holder,
    find_tool,
    parse_host_port,
    parse_java_major,
    parse_url_port,
    pid_alive,
    tail_lines,
)

JAVA17 = (
    'openjdk version "17.0.15" 2025-04-15\n'
    "OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)\n"
    "OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)\n"
)
JAVA11 = 'openjdk version "11.0.24" 2024-07-16\nOpenJDK Runtime Environment (build 11.0.24+8)\n'


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", state_dir=tmp_path / "state", **kw)  # type: ignore[arg-type]


# --- java ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "major"),
    [
        (JAVA17, 17),
        (JAVA11, 11),
        ('java version "1.8.0_292"\nJava(TM) SE Runtime Environment', 8),
        ('openjdk version "21" 2023-09-19\n', 21),
        ('openjdk version "22-ea" 2024-03-19\n', 22),
        ("openjdk 17.0.2 2022-01-18\nOpenJDK Runtime Environment", 17),
    ],
)
def test_parse_java_major(text: str, major: int) -> None:
    assert parse_java_major(text) == major


def test_parse_java_major_garbage() -> None:
    with pytest.raises(StackError, match="could not parse"):
        parse_java_major("command not found")


def test_java_11_is_rejected_with_clear_message() -> None:
    with pytest.raises(StackError) as exc:
        check_java_major(JAVA11)
    assert "Java 11" in str(exc.value) and "17" in str(exc.value)
    assert check_java_major(JAVA17) == 17


def _fake_bin(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def test_no_java_on_path(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(StackError, match="`java` was not found on PATH"):
        check_java(path=str(empty))


def test_fake_java_11_on_path(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    _fake_bin(bindir, "java", "cat >&2 <<'EOF'\n" + JAVA11 + "EOF\n")
    with pytest.raises(StackError, match="Java 11 found"):
        check_java(path=str(bindir))


def test_fake_java_17_on_path(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    _fake_bin(bindir, "java", "cat >&2 <<'EOF'\n" + JAVA17 + "EOF\n")
    java, major = check_java(path=str(bindir))
    assert major == 17 and java == str(bindir / "java")


def test_no_mvn_on_path(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="`mvn` was not found"):
        find_tool("mvn", path=str(tmp_path))


# --- ports --------------------------------------------------------------------


def test_port_holder_names_port_and_python_process() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        holder = find_port_holder(port)
        assert holder is not None
        assert holder.pid == os.getpid()
        assert "python" in (holder.name + holder.cmdline).lower()
        with pytest.raises(StackError) as exc:
            check_port_free(port, "kafka")
        msg = str(exc.value)
        assert f"port {port}" in msg and f"pid {os.getpid()}" in msg and "python" in msg.lower()
        check_port_free(port, "kafka", own_pid=os.getpid())  # our own process is fine


def test_free_port_has_no_holder() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert find_port_holder(port) is None
    check_port_free(port, "opensearch")


def test_parse_addresses() -> None:
    assert parse_host_port("127.0.0.1:9092", 1) == ("127.0.0.1", 9092)
    assert parse_host_port("localhost:19092,other:9092", 1) == ("localhost", 19092)
    assert parse_host_port("PLAINTEXT://127.0.0.1:9094", 1) == ("127.0.0.1", 9094)
    assert parse_host_port("kafka", 9092) == ("kafka", 9092)
    assert parse_url_port("http://127.0.0.1:9200") == ("127.0.0.1", 9200)
    assert parse_url_port("http://localhost") == ("localhost", 9200)


# --- disk, files, processes -----------------------------------------------------


def test_check_disk(tmp_path: Path) -> None:
    assert check_disk(tmp_path / "does" / "not" / "exist", 0) > 0
    with pytest.raises(StackError) as exc:
        check_disk(tmp_path, 10**6 * GIB)
    assert str(tmp_path) in str(exc.value) and "GiB" in str(exc.value)


def test_tail_lines(tmp_path: Path) -> None:
    f = tmp_path / "x.log"
    f.write_text("".join(f"line {i}\n" for i in range(1000)))
    assert tail_lines(f, 3) == ["line 997", "line 998", "line 999"]
    assert tail_lines(tmp_path / "missing.log", 3) == []


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(0)
    assert not pid_alive(2**22 + 12345)


# --- config rendering -----------------------------------------------------------


def test_kafka_config(tmp_path: Path) -> None:
    s = _settings(tmp_path, kafka_bootstrap="127.0.0.1:19092")
    text = kafka.render_config(s)
    assert "process.roles=broker,controller" in text
    assert "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093" in text
    assert "auto.create.topics.enable=false" in text
    assert f"log.dirs={tmp_path / 'state' / 'kafka' / 'data'}" in text
    cid = kafka.new_cluster_id()
    assert len(cid) == 22 and not cid.startswith("-")


def test_opensearch_config(tmp_path: Path) -> None:
    s = _settings(tmp_path, opensearch_url="http://127.0.0.1:19200")
    p = opensearch.paths(s)
    (p.home / "config").mkdir(parents=True)
    (p.home / "config" / "log4j2.properties").write_text("x")
    opensearch.write_config(s)
    yml = (p.config / "opensearch.yml").read_text()
    assert "discovery.type: single-node" in yml and "http.port: 19200" in yml
    assert "transport.port: 19300" in yml and f"path.data: {p.data}" in yml
    assert (p.config / "log4j2.properties").read_text() == "x"
    assert "-Xmx" not in (p.config / "jvm.options").read_text()


def test_extract_zip_keeps_exec_bits(tmp_path: Path) -> None:
    zpath = tmp_path / "d.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        info = zipfile.ZipInfo("dist-1.0/bin/run")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, "#!/bin/sh\n")
        zf.writestr("dist-1.0/config/a.yml", "a: 1\n")
    dest = tmp_path / "out"
    dest.mkdir()
    assert opensearch.extract_zip(zpath, dest) == 2
    assert os.access(dest / "bin" / "run", os.X_OK)
    assert (dest / "config" / "a.yml").read_text() == "a: 1\n"


# --- artifacts ------------------------------------------------------------------

FAKE_MVN_OK = """
count_file="$(dirname "$0")/calls"; echo x >> "$count_file"
for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; esac; done
echo "[INFO] Copying thing.zip to $out/thing-1.0.zip"
echo data > "$out/thing-1.0.zip"
"""

FAKE_MVN_FAIL = """
echo "[ERROR] Could not resolve dependencies: org.example:thing:zip:1.0 was not found"
exit 1
"""


def _aset(tmp_path: Path) -> artifacts.ArtifactSet:
    return artifacts.ArtifactSet(
        name="thing 1.0 zip",
        dest=tmp_path / "cache" / "thing",
        coords=("org.example:thing:1.0:zip",),
        expect=("thing-1.0.zip",),
    )


def test_fetch_then_reuse_then_refetch_on_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    _fake_bin(bindir, "mvn", FAKE_MVN_OK)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    aset = _aset(tmp_path)
    dest = artifacts.fetch(aset, tmp_path / "logs", progress=False)
    assert (dest / "thing-1.0.zip").exists() and artifacts.verify_marker(aset)
    artifacts.fetch(aset, tmp_path / "logs", progress=False)
    assert len((bindir / "calls").read_text().split()) == 1  # reused, not fetched again
    (dest / "thing-1.0.zip").write_text("corrupted")
    assert not artifacts.verify_marker(aset)
    artifacts.fetch(aset, tmp_path / "logs", progress=False)
    assert len((bindir / "calls").read_text().split()) == 2
    assert artifacts.verify_marker(aset)


def test_fetch_fails_after_retries_naming_artifact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    _fake_bin(bindir, "mvn", FAKE_MVN_FAIL)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    sleeps: list[float] = []
    with pytest.raises(StackError) as exc:
        artifacts.fetch(_aset(tmp_path), tmp_path / "logs", progress=False, sleep=sleeps.append)
    msg = str(exc.value)
    assert "org.example:thing:1.0:zip" in msg and "after 3 attempts" in msg and "not found" in msg
    assert sleeps == [2.0, 4.0]
    assert not (tmp_path / "cache" / "thing").exists()


def test_kafka_pom_has_broker() -> None:
    pom = artifacts.kafka_pom("3.9.1")
    assert "<artifactId>kafka_2.13</artifactId><version>3.9.1</version>" in pom
    assert "slf4j-reload4j" in pom


# --- manager helpers ------------------------------------------------------------


def test_index_template_hook(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = _settings(tmp_path)
    monkeypatch.setitem(sys.modules, "loglens.indices", None)  # import -> ImportError
    assert manager.install_index_templates_hook(s) is False

    calls: list[Settings] = []
    ok = types.ModuleType("loglens.indices")
    ok.install_index_templates_sync = calls.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "loglens.indices", ok)
    assert manager.install_index_templates_hook(s) is True and calls == [s]

    def boom(_: Settings) -> None:
        raise RuntimeError("mapping conflict")

    bad = types.ModuleType("loglens.indices")
    bad.install_index_templates_sync = boom  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "loglens.indices", bad)
    with pytest.raises(StackError, match="mapping conflict"):
        manager.install_index_templates_hook(s)


def test_died_message_has_reason_and_tail(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    log = opensearch.paths(s).log_file
    log.parent.mkdir(parents=True)
    log.write_text("starting\nERROR: Temporary file directory [/x] does not exist\nbye\n")
    msg = manager._died_message(s, "opensearch", 78)
    assert "exit code 78" in msg and "Temporary file directory" in msg and "bye" in msg


def test_status_when_nothing_runs(tmp_path: Path) -> None:
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        kport, oport = a.getsockname()[1], b.getsockname()[1]
    s = _settings(tmp_path, kafka_bootstrap=f"127.0.0.1:{kport}", opensearch_url=f"http://127.0.0.1:{oport}")
    st = manager.status(s)
    assert st["all_up"] is False
    assert st["kafka"]["state"] == "stopped" and st["opensearch"]["state"] == "stopped"
    assert manager.down(s) == {
        "kafka": "not running (no pid file)",
        "opensearch": "not running (no pid file)",
    }
