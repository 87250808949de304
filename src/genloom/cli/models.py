"""``genloom models``: which models are configured or available, with context length and source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from genloom.backends.llm import resolve_llm
from genloom.cli._common import console, print_json
from genloom.errors import GenloomError
from genloom.settings import get_settings


def _candidates() -> list[str]:
    s = get_settings()
    specs = [s.model, "llamacpp:"]
    models_dir = s.home / "models"
    if models_dir.is_dir():
        specs += [f"llamacpp:{p}" for p in sorted(Path(models_dir).glob("*.gguf"))]
    seen: list[str] = []
    for spec in specs:
        if spec not in seen:
            seen.append(spec)
    return seen


def _versions() -> list[dict[str, Any]]:
    """Every version in the model registry (genloom tune export registers adapters there)."""
    from genloom.registry import Registry

    reg = Registry.open()
    try:
        return [v.to_dict() for v in reg.list()]
    finally:
        reg.close()


def _brief(metrics: dict[str, Any]) -> str:
    ev = metrics.get("eval") or {}
    parts = [f"{k} {v['base']}->{v['tuned']}" for k, v in (ev.get("metrics") or {}).items()
             if k in ("faithfulness", "extractive_rate") and v.get("tuned") is not None]  # fmt: skip
    if ev:
        parts.append("gates " + ("passed" if ev.get("passed") else "failed"))
    train = metrics.get("train") or {}
    if train.get("train_loss") is not None:
        parts.append(f"train loss {train['train_loss']}")
    return "; ".join(parts) or "-"


def models(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the configured model, the bundled model, GGUF files in $GENLOOM_HOME/models and registry versions."""
    default = get_settings().model
    rows: list[dict[str, Any]] = []
    for spec in _candidates():
        try:
            info = resolve_llm(spec).info()
            rows.append(
                {
                    "spec": spec,
                    "default": spec == default,
                    "id": info.id,
                    "backend": info.backend,
                    "context_length": info.context_length,
                    "source": info.source,
                    "details": info.details,
                    "available": True,
                }
            )
        except GenloomError as e:
            rows.append({"spec": spec, "default": spec == default, "available": False, "error": str(e)})
    versions = _versions()
    if as_json:
        print_json(rows + [{"spec": f"registry:{v['ref']}", "default": f"registry:{v['ref']}" == default,
                            "available": Path(v["path"]).exists(), "registry": v} for v in versions])  # fmt: skip
        return
    table = Table("model", "backend", "context", title="models")
    table.add_column("source", overflow="fold")
    for r in rows:
        name = r["spec"] + (" [green](default)[/]" if r["default"] else "")
        if r["available"]:
            table.add_row(name, r["backend"], str(r["context_length"]), r["source"])
        else:
            table.add_row(name, "-", "-", f"[red]unavailable:[/] {r['error']}")
    console.print(table)
    if versions:
        vt = Table(
            "version", "kind", "base", "data hash", title="registry (serve with -m registry:NAME[@vN])"
        )
        vt.add_column("config", overflow="fold")
        vt.add_column("metrics", overflow="fold")
        for v in versions:
            cfg = v["config"]
            brief = ", ".join(
                f"{k}={cfg[k]}"
                for k in ("method", "rank", "epochs", "learning_rate", "n_examples")
                if k in cfg
            )
            ref = v["ref"] + (" [green](current)[/]" if v["current"] else "")
            vt.add_row(
                ref,
                v["kind"],
                v["base"] or "-",
                (v["data_hash"] or "-")[:12],
                brief or "-",
                _brief(v["metrics"]),
            )
        console.print(vt)


def register(app: typer.Typer) -> None:
    app.command()(models)
