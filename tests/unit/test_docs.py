"""The README's configuration table must list every setting (docs stay true)."""

from pathlib import Path

from loglens.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_readme_lists_every_env_var() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [
        f"LOGLENS_{name.upper()}"
        for name in Settings.model_fields
        if f"`LOGLENS_{name.upper()}`" not in readme
    ]
    assert not missing, f"README configuration table lacks {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "scripts/test.sh" in ci and "bash scripts/test.sh" in readme
    assert "bash scripts/run.sh" in readme
