"""LoRA (SFT) and DPO training of the bundled model on CPU, with PEFT and TRL.

    run = train("data/train.jsonl", "runs/grounded", TrainConfig(method="lora"))
    run.adapter_dir, run.metrics["tokens_per_second"]

A run folder holds ``config.json`` (the config, the data hash, library versions: written before training
starts), ``checkpoint-N/`` (every ``save_steps`` and on Ctrl-C), ``adapter/`` (the final PEFT adapter) and
``metrics.json`` (loss history, tokens/s, peak RSS, wall time). Training the same config and data into the
same folder again resumes from its last checkpoint; a different config or data is refused (so a run's
checkpoints never mix two experiments). Seeded: the same seed, data and config give the same adapter.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genloom.errors import UserError
from genloom.tune.chat import ChatFormat, base_gguf, load_base
from genloom.tune.examples import data_hash, load_examples

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class TrainConfig:
    """Defaults sized for SmolLM2-135M on 2 CPU cores (a few hundred examples in tens of minutes)."""

    method: str = "lora"  # lora: supervised fine-tuning of a LoRA adapter; dpo: preference tuning of one
    base: str = "llamacpp:"
    epochs: float = 1.0
    max_steps: int = 0  # > 0 overrides epochs
    batch_size: int = 4
    grad_accum: int = 1
    learning_rate: float = 0.0  # 0 = the method's default (lora 3e-4, dpo 5e-5)
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: tuple[str, ...] = LORA_TARGETS
    max_length: int = 1024
    beta: float = 0.1  # DPO
    seed: int = 0
    save_steps: int = 10
    threads: int = 2
    max_minutes: float = 0.0  # > 0: stop (and keep the adapter) when training has run this long

    def __post_init__(self) -> None:
        if self.method not in ("lora", "dpo"):
            raise UserError(f"unknown method {self.method!r}", hint="use --method lora or --method dpo")
        for name in ("batch_size", "grad_accum", "rank", "alpha", "max_length", "save_steps", "threads"):
            if getattr(self, name) < 1:
                raise UserError(
                    f"{name} must be at least 1, got {getattr(self, name)}", hint="pass a positive value"
                )
        if self.epochs <= 0 and self.max_steps <= 0:
            raise UserError("nothing to train: epochs and max_steps are both 0", hint="pass --epochs 1")
        self.targets = tuple(self.targets)

    @property
    def lr(self) -> float:
        return self.learning_rate or (3e-4 if self.method == "lora" else 5e-5)

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "targets": list(self.targets), "learning_rate": self.lr}


@dataclass
class TrainRun:
    out: Path
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def adapter_dir(self) -> Path:
        return self.out / "adapter"


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    return {p: md.version(p) for p in ("torch", "transformers", "peft", "trl", "gguf")}


def _check_resume(out: Path, record: dict[str, Any]) -> bool:
    """True when ``out`` holds checkpoints of this very run (same config and data)."""
    cfg = out / "config.json"
    if not cfg.exists():
        return False
    old = json.loads(cfg.read_text(encoding="utf-8"))
    if old.get("train") != record["train"] or old.get("data_hash") != record["data_hash"]:
        raise UserError(
            f"{out} holds a run with another config or data",
            hint="pass a new --out folder (or delete the old one) to train a different run",
        )
    return any(out.glob("checkpoint-*"))


class _Stop:
    """First Ctrl-C: finish the step, save a checkpoint, stop. Second: stop now."""

    def __init__(self) -> None:
        self.requested = False
        self._old: Any = None

    def __enter__(self) -> _Stop:
        def handler(signum: int, frame: Any) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        try:
            self._old = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: no graceful stop
            self._old = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _callback(
    stop: _Stop,
    progress: Callable[[dict[str, Any]], None] | None,
    history: list[dict[str, Any]],
    budget: float,
) -> Any:
    from transformers import TrainerCallback

    t0 = time.perf_counter()

    class Report(TrainerCallback):
        out_of_time = False

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if progress:
                progress({"step": state.global_step, "total": state.max_steps})
            if budget and time.perf_counter() - t0 > budget * 60:
                Report.out_of_time = True
                control.should_save = True
                control.should_training_stop = True
            if stop.requested:
                control.should_save = True
                control.should_training_stop = True

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                row = {"step": state.global_step, "loss": round(float(logs["loss"]), 5)}
                history.append(row)
                if progress:
                    progress({**row, "total": state.max_steps})

    return Report()


def train(
    data: str | Path,
    out: str | Path,
    config: TrainConfig | None = None,
    *,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> TrainRun:
    """Train a LoRA adapter on ``data`` (a genloom tune data file) into the run folder ``out``."""
    cfg = config or TrainConfig()
    kind = "sft" if cfg.method == "lora" else "preference"
    examples = load_examples(data, kind)
    out = Path(out).expanduser()
    gguf_path = base_gguf(cfg.base)
    record = {"schema": "genloom.tune/1", "train": cfg.to_dict(), "data": str(Path(data).resolve()),
              "data_hash": data_hash([data]), "n_examples": len(examples), "base_gguf": str(gguf_path)}  # fmt: skip
    resume = _check_resume(out, record)
    model, tok = load_base(gguf_path, cfg.threads)
    record["versions"] = _versions()
    fmt = ChatFormat.for_gguf(gguf_path, tok)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")

    from datasets import Dataset
    from peft import LoraConfig

    peft_config = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                             target_modules=list(cfg.targets), task_type="CAUSAL_LM")  # fmt: skip
    common: dict[str, Any] = dict(
        output_dir=str(out), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps or -1,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr, lr_scheduler_type="linear", warmup_steps=0, logging_steps=1,
        save_steps=cfg.save_steps, save_total_limit=2, seed=cfg.seed, data_seed=cfg.seed, use_cpu=True,
        report_to=[], disable_tqdm=True, dataloader_num_workers=0, max_length=cfg.max_length,
        include_num_input_tokens_seen="non_padding",
    )  # fmt: skip
    if cfg.method == "lora":
        from trl import SFTConfig, SFTTrainer

        rows = [fmt.sft_row(e.messages, e.completion or "", cfg.max_length) for e in examples]
        n_tokens = sum(len(r["input_ids"]) for r in rows)
        trainer: Any = SFTTrainer(
            model=model, args=SFTConfig(**common), train_dataset=Dataset.from_list(rows),
            processing_class=tok, peft_config=peft_config,
        )  # fmt: skip
    else:
        from trl import DPOConfig, DPOTrainer

        rows = [{"prompt": fmt.prompt(e.messages), "chosen": (e.chosen or "").strip() + fmt.eos,
                 "rejected": (e.rejected or "").strip() + fmt.eos} for e in examples]  # fmt: skip
        n_tokens = sum(
            len(fmt.ids(r["prompt"])) * 2 + len(fmt.ids(r["chosen"] + r["rejected"])) for r in rows
        )
        trainer = DPOTrainer(
            model=model, args=DPOConfig(**common, beta=cfg.beta), train_dataset=Dataset.from_list(rows),
            processing_class=tok, peft_config=peft_config,
        )  # fmt: skip
    history: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with _Stop() as stop:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # progress goes through ``progress``
        report = _callback(stop, progress, history, cfg.max_minutes)
        trainer.add_callback(report)
        result = trainer.train(resume_from_checkpoint=True if resume else None)
    wall = time.perf_counter() - t0
    state = trainer.state
    seen = int(getattr(state, "num_input_tokens_seen", 0) or 0)
    metrics = {
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "finished": not stop.requested and (state.global_step >= state.max_steps or report.out_of_time),
        "stopped_by": "interrupt" if stop.requested else ("time budget" if report.out_of_time else None),
        "resumed": resume,
        "train_loss": round(float(result.training_loss), 5),
        "loss_history": history,
        "wall_seconds": round(wall, 2),
        "tokens_seen": seen,
        "tokens_per_second": round(seen / wall, 2) if wall > 0 and seen else None,
        "dataset_tokens": n_tokens,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "threads": cfg.threads,
    }
    if metrics["finished"]:
        trainer.model.save_pretrained(str(out / "adapter"))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
    return TrainRun(out, record, metrics)


def load_run(out: str | Path) -> TrainRun:
    out = Path(out).expanduser()
    cfg, met = out / "config.json", out / "metrics.json"
    if not cfg.exists():
        raise UserError(f"{out} is not a training run (no config.json)", hint="train one: genloom tune train")
    metrics = json.loads(met.read_text(encoding="utf-8")) if met.exists() else {}
    return TrainRun(out, json.loads(cfg.read_text(encoding="utf-8")), metrics)
