"""A trained run as a named model version in the one registry (genloom.registry), and its promotion.

    v = register_run("runs/grounded", "grounded")      # exports adapter.gguf, merges it: kind "llm"
    v = register_run("runs/grounded", "grounded", merge=False)  # the adapter alone: kind "adapter"
    record_eval(v, comparison)                          # metrics["eval"] = the base-vs-tuned summary
    promote_version("grounded", 2, "runs/grounded/eval") # only when that report's gates passed for grounded@v2

Serve a version with ``-m registry:grounded`` (current) or ``-m registry:grounded@v2``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genloom.backends.llm.gguf_merge import merge_adapter
from genloom.errors import UserError
from genloom.registry import ModelVersion, Registry
from genloom.tune.chat import base_gguf
from genloom.tune.export import export_adapter
from genloom.tune.train import load_run


def register_run(
    run_dir: str | Path, name: str, *, merge: bool = True, registry: Registry | None = None
) -> ModelVersion:
    """Register a finished run as the next version of ``name``. ``merge`` (the default) folds the adapter
    into a copy of the base (``merged.gguf``, kind ``llm``): it decodes at the base's speed, where llama.cpp
    applying the adapter at run time is slower on small models (genloom.backends.llm.gguf_merge)."""
    run = load_run(run_dir)
    if not run.adapter_dir.exists():
        raise UserError(
            f"{run.out} has no finished adapter (training stopped early?)",
            hint=f"resume it: genloom tune train ... --out {run.out}",
        )
    gguf = run.out / "adapter.gguf"
    base = base_gguf(run.config["train"]["base"])
    if not gguf.exists():
        export_adapter(run.adapter_dir, gguf, base)
    kind, path, extra = "adapter", gguf, {}
    if merge:
        kind, path = "llm", run.out / "merged.gguf"
        merge_adapter(base, gguf, path)
        extra = {"adapter": str(gguf), "merged": "Q8_0"}
    train = {k: v for k, v in run.metrics.items() if k != "loss_history"}
    reg = registry or Registry.open()
    try:
        return reg.register(
            name, kind, path, base=run.config["train"]["base"], data_hash=run.config["data_hash"],
            config={**run.config["train"], "data": run.config["data"], "n_examples": run.config["n_examples"],
                    "run": str(run.out), "versions": run.config.get("versions", {}), **extra},
            metrics={"train": train},
        )  # fmt: skip
    finally:
        if registry is None:
            reg.close()


def record_eval(
    version: ModelVersion, summary: dict[str, Any], registry: Registry | None = None
) -> ModelVersion:
    reg = registry or Registry.open()
    try:
        return reg.set_metrics(version.name, version.version, {"eval": summary})
    finally:
        if registry is None:
            reg.close()


def promote_version(
    name: str, version: int, report: dict[str, Any], registry: Registry | None = None
) -> ModelVersion:
    """Make ``name@vN`` current, only if ``report`` (a compare.json) evaluated exactly it and passed."""
    ref = f"registry:{name}@v{version}"
    if report.get("tuned") != ref:
        raise UserError(
            f"the report evaluated {report.get('tuned')!r}, not {ref}",
            hint=f"run genloom tune eval --tuned {ref} first",
        )
    if not report.get("passed"):
        failed = [g["gate"] for g in report.get("gates", []) if not g["passed"]]
        raise UserError(
            f"{name}@v{version} did not pass its gates: {', '.join(failed) or 'no gates were checked'}",
            hint="it stays unpromoted; the current version is unchanged",
        )
    reg = registry or Registry.open()
    try:
        return reg.promote(name, version, note=f"gates passed vs {report.get('base')}")
    finally:
        if registry is None:
            reg.close()
