"""The training loop shared by every image model: seeded batches, a time or epoch budget, a checkpoint per
epoch (and when the budget runs out), resume, a sample grid per epoch, then export + registration.

    opts = TrainOptions(kind="ddpm", data="digits", epochs=30, minutes=4)
    run = train(opts, run_dir, on_progress=print)
    version = register(run, "digits-ddpm", settings)       # the registry's next version of that name

Reproducible: the same options give the same weights (the batch order of epoch ``e`` comes from its own
seeded generator; the noise from torch's global generator, saved in the checkpoint), and a resumed run gives
the weights an uninterrupted one would have.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from genloom.errors import NotFound, UserError
from genloom.image.artifact import write_model
from genloom.image.data import ImageData, load_data, to_uint8
from genloom.image.png import save_grid
from genloom.image.trainers import Trainer, make_trainer

CHECKPOINT = "checkpoint.pt"


@dataclass
class TrainOptions:
    kind: str
    data: str = "digits"
    size: int | None = None
    channels: int | None = None
    epochs: int = 20
    minutes: float | None = None  # stop after this much wall-clock training time (this invocation)
    cpu_minutes: float | None = None  # ... or this much process CPU time (fair on a shared machine)
    batch_size: int = 128
    seed: int = 0
    held_out: float = 0.2
    limit: int | None = None  # train on the first N images of the training split only (quick tries)
    device: str = "cpu"
    grid: bool = True
    model: dict[str, Any] = field(default_factory=dict)  # lr, width, unconditional, latent, beta, z_dim, ...


@dataclass
class Progress:
    epoch: int
    epochs: int
    step: int  # optimiser steps done in this run (all invocations)
    total: int  # steps the whole run will take
    logs: dict[str, float]
    elapsed: float  # training seconds, all invocations


@dataclass
class TrainResult:
    options: TrainOptions
    trainer: Trainer
    train_data: ImageData
    held_out: ImageData
    data_hash: str  # of the whole data set (before the split)
    run_dir: Path
    epochs_done: float
    steps: int
    seconds: float
    history: list[dict[str, float]]
    grids: list[Path]
    finished: bool  # all epochs done (False: the time budget stopped it; resume to go on)


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _grid(t: Trainer, data: ImageData, out: Path) -> Path:
    if t.conditional:
        k = len(data.classes)
        labels: list[int | None] | None = [c for c in range(k) for _ in range(8)]
        seeds = list(range(8 * k))
    else:
        labels, seeds = None, list(range(64))
    images = to_uint8(t.preview(seeds, labels))
    return save_grid(out, images, cols=8, scale=max(1, 32 // data.size))


def train(
    opts: TrainOptions,
    run_dir: Path,
    *,
    resume: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    max_steps: int | None = None,
) -> TrainResult:
    ckpt_path = run_dir / CHECKPOINT
    state: dict[str, Any] | None = None
    if ckpt_path.exists() and not resume:
        raise UserError(f"{run_dir} already holds a training run",
                        hint="pass --resume to continue it, or choose another --run-dir / --name")  # fmt: skip
    if resume:
        if not ckpt_path.exists():
            raise NotFound(f"no checkpoint to resume in {run_dir}", hint="start the run without --resume")
        state = torch.load(ckpt_path, weights_only=True)
        saved = TrainOptions(**state["options"])
        # a resumed run keeps what it was trained with; only the budget may change
        opts = dataclasses.replace(saved, epochs=opts.epochs, minutes=opts.minutes, cpu_minutes=opts.cpu_minutes,
                                   device=opts.device, grid=opts.grid)  # fmt: skip
    data = load_data(opts.data, opts.size, opts.channels)
    train_set, held = data.split(opts.held_out, opts.seed)
    if opts.limit is not None:
        train_set = train_set.subset(torch.arange(min(opts.limit, len(train_set))))
    if state is not None and state["data_hash"] != data.data_hash():
        raise UserError(f"the data at {opts.data} changed since this run started",
                        hint="start a new run (another --run-dir) to train on the new data")  # fmt: skip
    torch.manual_seed(opts.seed)
    t = make_trainer(opts.kind, data.size, data.channels, len(data.classes) if data.labelled else 0,
                     opts.model, opts.device)  # fmt: skip
    epoch, batch0, step, elapsed, history = 0, 0, 0, 0.0, []
    if state is not None:
        for k, m in t.modules.items():
            m.load_state_dict(state["modules"][k])
        for k, o in t.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        torch.set_rng_state(state["rng"])
        epoch, batch0, step = state["epoch"], state["batch"], state["step"]
        elapsed, history = state["elapsed"], list(state["history"])
    run_dir.mkdir(parents=True, exist_ok=True)
    n, bs = len(train_set), opts.batch_size
    if bs < 2:
        raise UserError("batch size must be at least 2")
    per_epoch = -(-n // bs)
    total = per_epoch * opts.epochs
    x_all = train_set.images.to(t.device)
    y_all = None if train_set.labels is None else train_set.labels.to(t.device)
    grids: list[Path] = []
    t0, c0, start_step, stopped = time.perf_counter(), time.process_time(), step, False

    def budget_spent() -> bool:
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return (opts.minutes is not None and wall >= opts.minutes * 60) or (
            opts.cpu_minutes is not None and cpu >= opts.cpu_minutes * 60) or (
            max_steps is not None and step - start_step >= max_steps)  # fmt: skip

    def checkpoint(ep: int, b: int) -> None:
        _save_checkpoint(ckpt_path, {
            "format": 1, "options": asdict(opts), "data_hash": data.data_hash(), "epoch": ep, "batch": b,
            "step": step, "elapsed": elapsed + time.perf_counter() - t0, "history": history,
            "modules": {k: m.state_dict() for k, m in t.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in t.optimizers.items()}, "rng": torch.get_rng_state(),
        })  # fmt: skip

    while epoch < opts.epochs and not stopped:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(opts.seed * 100_003 + epoch))
        sums: dict[str, float] = {}
        count = 0
        for b in range(batch0, per_epoch):
            idx = perm[b * bs : (b + 1) * bs].to(t.device)
            if len(idx) < 2:  # BatchNorm needs two
                continue
            logs = t.step(x_all[idx], None if y_all is None else y_all[idx])
            step += 1
            count += 1
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            spent = time.perf_counter() - t0
            if on_progress:
                on_progress(Progress(epoch + 1, opts.epochs, step, total, logs, elapsed + spent))
            if b + 1 < per_epoch and budget_spent():
                checkpoint(epoch, b + 1)
                stopped = True
                break
        if count:
            history.append({"epoch": epoch + 1, **{k: v / count for k, v in sums.items()}})
        if stopped:
            break
        epoch, batch0 = epoch + 1, 0
        if opts.grid:
            grids.append(_grid(t, data, run_dir / "grids" / f"epoch-{epoch:04d}.png"))
        checkpoint(epoch, 0)
        if budget_spent():
            stopped = epoch < opts.epochs
            break
    seconds = elapsed + time.perf_counter() - t0
    done = epoch + (batch0 / per_epoch if stopped else 0)
    return TrainResult(opts, t, train_set, held, data.data_hash(), run_dir, float(done), step, seconds,
                       history, grids, finished=epoch >= opts.epochs)  # fmt: skip


def _export_modules(t: Trainer) -> dict[str, torch.nn.Module]:
    keep = {"ddpm": ("unet",), "vae": ("vae",), "gan": ("generator",)}[t.kind]
    return {k: t.modules[k] for k in keep}


def model_meta(run: TrainResult) -> dict[str, Any]:
    t, o, d = run.trainer, run.options, run.train_data
    return {
        "kind": t.kind,
        "size": t.size,
        "channels": t.channels,
        "classes": d.classes if t.conditional else [],
        "data": {
            "spec": o.data,
            "source": d.source,
            "hash": run.data_hash,
            "classes": d.classes,
            "size": o.size,
            "channels": o.channels,
            "held_out": o.held_out,
            "split_seed": o.seed,
            "n_train": len(d),
            "n_held_out": len(run.held_out),
        },
        "config": t.model_config(),
        "train": {
            "options": asdict(o),
            "steps": run.steps,
            "epochs": run.epochs_done,
            "seconds": round(run.seconds, 1),
            "history": run.history[-5:],
            "final_loss": run.history[-1]["loss"] if run.history else None,
        },
    }


def register(run: TrainResult, name: str, settings: Any = None) -> Any:
    """Export the trained weights to a new immutable folder and register it as the next version of ``name``."""
    from genloom.registry import NAME_RE, Registry
    from genloom.settings import get_settings

    if not NAME_RE.fullmatch(name):
        raise UserError(f"invalid model name {name!r}", hint="letters, digits, '_', '.', '-' (1-64)")
    s = settings or get_settings()
    meta = model_meta(run)
    folder = s.ensure_home() / "images" / "models" / f"{name}-{uuid.uuid4().hex[:10]}"
    write_model(folder, meta, _export_modules(run.trainer))
    metrics = {"train_loss": meta["train"]["final_loss"], "train_steps": run.steps,
               "train_seconds": round(run.seconds, 1)}  # fmt: skip
    reg = Registry.open(s)
    try:
        return reg.register(name, "image", folder, data_hash=meta["data"]["hash"],
                            config={"kind": meta["kind"], **meta["train"]["options"]}, metrics=metrics)  # fmt: skip
    finally:
        reg.close()
