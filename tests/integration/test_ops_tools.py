"""Ops files validated by the real tools: promtool, hadolint, JSON schemas, the Groovy compiler.

No service is needed. A missing tool fails the test with the command that installs it (never a skip):
promtool (apt `prometheus`), hadolint + check-jsonschema (PyPI, dev tools), Groovy (Maven Central,
cached in ``$LOGLENS_CACHE_DIR/groovy``; needs java and mvn, which bootstrap installs).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops.helpers import ROOT, groovy_jar, run, tool

PROM_DIR = ROOT / "infra" / "prometheus"
DASHBOARDS = ROOT / "infra" / "grafana" / "dashboards"
GROOVY_CHECK = ROOT / "tests" / "ops" / "groovy_syntax_check.groovy"

# Grafana's built-in variables, replaced by a value so promtool can parse the expression.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def _ok(proc: subprocess.CompletedProcess[str], what: str) -> None:
    assert proc.returncode == 0, f"{what} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"


# --- Prometheus -------------------------------------------------------------------------------------


def test_promtool_check_config() -> None:
    _ok(run([tool("promtool"), "check", "config", str(PROM_DIR / "prometheus.yml")]), "promtool check config")


def test_promtool_check_rules() -> None:
    _ok(run([tool("promtool"), "check", "rules", str(PROM_DIR / "alerts.yml")]), "promtool check rules")


def test_promtool_alert_unit_tests() -> None:
    proc = run([tool("promtool"), "test", "rules", "alerts_test.yml"], cwd=PROM_DIR)
    _ok(proc, "promtool test rules")
    assert "SUCCESS" in proc.stdout


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(rate(x[5m])\n")
    assert run([tool("promtool"), "check", "rules", str(bad)]).returncode != 0


def test_grafana_panel_queries_parse_as_promql(tmp_path: Path) -> None:
    rules = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for var, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(var, value)
                assert "$" not in expr, f"{panel['title']}: unknown Grafana variable in {expr}"
                rules.append({"record": f"grafana:panel_{panel['id']}_{target['refId']}", "expr": expr})
    assert rules
    rule_file = tmp_path / "grafana_rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "grafana-panels", "rules": rules}]}))
    proc = run([tool("promtool"), "check", "rules", str(rule_file)])
    _ok(proc, "promtool check rules (Grafana panel queries)")
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout


# --- Dockerfile -----------------------------------------------------------------------------------


def test_hadolint_dockerfile() -> None:
    # Default failure threshold: any finding (error, warning, info, style) fails; accepted ones are
    # inline `# hadolint ignore=` with a reason (checked in tests/unit/test_ops_files.py).
    proc = run([tool("hadolint"), "--no-color", "Dockerfile"])
    _ok(proc, "hadolint Dockerfile")


def test_hadolint_catches_problems(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nUSER root\n")
    assert run([tool("hadolint"), "--no-color", str(bad)]).returncode != 0


# --- JSON schemas (vendored in check-jsonschema) ----------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "path"),
    [("vendor.compose-spec", "infra/docker-compose.yml"), ("vendor.gitlab-ci", ".gitlab-ci.yml")],
)
def test_schema(schema: str, path: str) -> None:
    proc = run([tool("check-jsonschema"), "--builtin-schema", schema, str(ROOT / path)])
    _ok(proc, f"check-jsonschema {schema} {path}")


def test_schema_check_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  x:\n    image: a\n    mem_limit: [1]\n    bogus_key: 1\n")
    proc = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(bad)])
    assert proc.returncode != 0


# --- Jenkinsfile (real Groovy parser) -----------------------------------------------------------------


def _groovy_check(*files: Path) -> subprocess.CompletedProcess[str]:
    return run(
        [tool("java"), "-cp", str(groovy_jar()), "groovy.ui.GroovyMain", str(GROOVY_CHECK), *map(str, files)]
    )


def test_jenkinsfile_is_valid_groovy() -> None:
    proc = _groovy_check(ROOT / "jenkins" / "Jenkinsfile")
    _ok(proc, "Groovy parse of jenkins/Jenkinsfile")


def test_groovy_check_rejects_a_broken_jenkinsfile(tmp_path: Path) -> None:
    broken = tmp_path / "Jenkinsfile"
    text = (ROOT / "jenkins" / "Jenkinsfile").read_text()
    broken.write_text(text.replace("stage('Image') {", "stage('Image') {{", 1))
    proc = _groovy_check(broken)
    assert proc.returncode == 1 and "FAIL" in proc.stderr, proc.stdout + proc.stderr
