"""Print the README configuration table from the Settings model (keeps docs and code in step)."""

from __future__ import annotations

from pathlib import Path

from loglens.config import Settings


def rows() -> list[str]:
    out = ["| env var | default | what it does |", "|---|---|---|"]
    home = str(Path.home())
    for name, field in Settings.model_fields.items():
        default = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        text = str(default).replace(home, "~") if default is not None else "unset"
        out.append(f"| `LOGLENS_{name.upper()}` | `{text}` | {field.description} |")
    return out


if __name__ == "__main__":
    print("\n".join(rows()))
