"""``genloom image train|sample|eval|list``: small image models trained here, named versions in the registry."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import typer

from genloom.cli._common import console, console_err, print_json
from genloom.errors import MissingDependency, UserError

app = typer.Typer(
    help="Image generation: train DDPM / VAE / GAN models, sample, evaluate.", no_args_is_help=True
)


def _need() -> None:
    try:
        import diffusers  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as e:
        raise MissingDependency(e.name or "diffusers", "image") from None


@app.command()
def train(
    model: str = typer.Option(..., "--model", "-m", help="ddpm | vae | gan"),
    data: str = typer.Option("digits", "--data", help="'digits' (sklearn's 8x8) or a folder of images."),
    name: str | None = typer.Option(None, "--name", help="Registry name (default: DATA-MODEL)."),
    epochs: int = typer.Option(20, "--epochs", min=1),
    minutes: float | None = typer.Option(None, "--minutes", help="Stop after this much wall time."),
    cpu_minutes: float | None = typer.Option(None, "--cpu-minutes", help="Stop after this much CPU time."),
    batch_size: int = typer.Option(128, "--batch-size", min=2),
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (default per model)."),
    seed: int = typer.Option(0, "--seed"),
    size: int | None = typer.Option(None, "--size", help="Resize to SIZE x SIZE (folders: default 32)."),
    rgb: bool = typer.Option(False, "--rgb", help="Colour (3 channels) instead of grayscale."),
    unconditional: bool = typer.Option(False, "--unconditional", help="ddpm: ignore the labels."),
    width: int | None = typer.Option(None, "--width", help="Base channel width of the network."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    run_dir: Path | None = typer.Option(None, "--run-dir", help="Checkpoints and grids (default in home)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --run-dir."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train an image model (checkpoint + sample grid per epoch) and register it as NAME's next version."""
    _need()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from genloom.image.artifact import resolve_device
    from genloom.image.train import TrainOptions, register
    from genloom.image.train import train as run_training
    from genloom.settings import get_settings

    s = get_settings()
    stem = "digits" if data == "digits" else Path(data).expanduser().resolve().name
    name = name or f"{stem}-{model}"
    opts: dict[str, Any] = {"lr": lr, "unconditional": unconditional, "width": width}
    topts = TrainOptions(kind=model, data=data, size=size, channels=3 if rgb else None, epochs=epochs,
                         minutes=minutes, cpu_minutes=cpu_minutes, batch_size=batch_size, seed=seed,
                         device=resolve_device(device), model={k: v for k, v in opts.items() if v})  # fmt: skip
    folder = run_dir or s.ensure_home() / "images" / "runs" / name
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=console_err, transient=as_json) as bar:
        task = bar.add_task(f"{model} epoch 1", total=None, loss="-")

        def show(p: Any) -> None:
            bar.update(task, total=p.total, completed=p.step, loss=f"{p.logs['loss']:.4f}",
                       description=f"{model} epoch {p.epoch}/{p.epochs}")  # fmt: skip

        run = run_training(topts, folder, resume=resume, on_progress=show)
    v = register(run, name, s)
    out = {"model": v.ref, "path": v.path, "run_dir": str(folder), "steps": run.steps,
           "epochs": round(run.epochs_done, 2), "seconds": round(run.seconds, 1), "finished": run.finished,
           "loss": run.history[-1] if run.history else None,
           "grid": str(run.grids[-1]) if run.grids else None}  # fmt: skip
    if as_json:
        print_json(out)
        return
    console.print(f"registered [bold]{v.ref}[/] ({run.steps} steps, {run.epochs_done:.1f} epochs, "
                  f"{run.seconds:.0f} s)")  # fmt: skip
    if run.grids:
        console.print(f"last sample grid: {run.grids[-1]}")
    if not run.finished:
        console.print(f"[yellow]stopped by the time budget[/]; continue with --resume --run-dir {folder}")


def _out_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder", hint="pass --out a folder for the images")
    out.mkdir(parents=True, exist_ok=True)
    return out


@app.command()
def sample(
    model: str = typer.Option(..., "--model", "-m", help="NAME or NAME@vN of a registered image model."),
    prompt: str | None = typer.Option(None, "--prompt", "-p", help="e.g. 'a handwritten 7' (names a class)."),
    label: str | None = typer.Option(None, "--label", "-l", help="A class name or index."),
    n: int = typer.Option(8, "--n", "-n", min=1, max=64),
    seed: int | None = typer.Option(None, "--seed", help="Image i uses seed+i (random when not given)."),
    steps: int | None = typer.Option(None, "--steps", help="Diffusion steps (ddim 50, ddpm 1000)."),
    sampler: str | None = typer.Option(None, "--sampler", help="ddim | ddpm (diffusion models)."),
    guidance: float | None = typer.Option(None, "--guidance", help="Classifier-free guidance (default 2)."),
    out: Path = typer.Option(Path("genloom-images"), "--out", "-o", help="Folder for the PNGs."),
    device: str = typer.Option("auto", "--device"),
    as_json: bool = typer.Option(False, "--json", help="Print the manifests as JSON."),
) -> None:
    """Generate images: one PNG each (manifest embedded + .json sidecar) and grid.png."""
    _need()
    from genloom.image.artifact import open_model
    from genloom.image.png import save_grid, save_with_sidecar
    from genloom.image.prompt import label_for, parse_label

    if prompt is not None and label is not None:
        raise UserError("pass --prompt or --label, not both")
    m = open_model(model, device=device)
    lab = parse_label(label, m.classes) if label is not None else label_for(prompt, m.classes)
    seed = random.randrange(2**31) if seed is None else seed
    gen = m.generate(n, seed, lab, steps=steps, sampler=sampler, guidance=guidance)
    folder = _out_dir(out)
    pixels, manifests = gen.with_manifests(m.ref, prompt)
    stem = m.ref.replace("@", "-")
    for px, man in zip(pixels, manifests, strict=True):
        save_with_sidecar(folder / f"{stem}-seed{man['seed']}.png", px, man)
    grid_path = save_grid(folder / "grid.png", pixels, cols=min(8, n), scale=max(1, 32 // m.size))
    if as_json:
        print_json({"model": m.ref, "out": str(folder), "grid": str(grid_path), "images": manifests})
        return
    what = f"class {gen.params[0]['class']}" if lab is not None else "unconditional"
    console.print(f"{n} image(s) from {m.ref} ({what}, seeds {seed}..{seed + n - 1}) -> {folder}/")
    console.print(f"grid: {grid_path}")


@app.command("eval")
def evaluate(
    model: str = typer.Option(..., "--model", "-m", help="NAME or NAME@vN"),
    n: int = typer.Option(360, "--n", min=10, help="Samples scored (at most the held-out split's size)."),
    seed: int = typer.Option(0, "--seed"),
    steps: int | None = typer.Option(None, "--steps"),
    sampler: str | None = typer.Option(None, "--sampler"),
    guidance: float | None = typer.Option(None, "--guidance"),
    baselines: bool = typer.Option(
        True, "--baselines/--no-baselines", help="Also score train/held-out/noise."
    ),
    device: str = typer.Option("auto", "--device"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """FID / IS / precision-recall / accuracy / memorisation against the model's data; saved to the registry."""
    _need()
    from rich.table import Table

    from genloom.image.artifact import open_model
    from genloom.image.evaluate import Evaluator
    from genloom.registry import Registry, parse_ref

    m = open_model(model, device=device)
    ev = Evaluator.for_model(m)
    gen = {
        k: v for k, v in {"steps": steps, "sampler": sampler, "guidance": guidance}.items() if v is not None
    }
    rows = {m.ref: ev.report(m, n, seed, **gen)}
    if baselines:
        rows.update({f"baseline:{k}": v for k, v in ev.baselines(n, seed).items()})
    result = {"model": m.ref, "feature_net": ev.net_info, "settings": gen, "scores": rows}
    reg = Registry.open()
    try:
        name, version = parse_ref(m.ref)
        reg.set_metrics(name, version or 1, {"eval": {**rows[m.ref], "settings": gen, "n": n, "seed": seed}})
    finally:
        reg.close()
    if as_json:
        print_json(result)
        return
    table = Table("set", "FID", "IS", "precision", "recall", "accuracy", "copy rate", title=f"eval {m.ref}")
    for k, r in rows.items():
        table.add_row(k, *(str(r.get(c, "-")) for c in ("fid", "is", "precision", "recall", "accuracy",
                                                          "copy_rate")))  # fmt: skip
    console.print(table)
    console.print(f"[dim]features: a CNN trained on the training split (held-out accuracy "
                  f"{ev.net_info['held_out_accuracy']}); FID is comparable only within this data set[/]")  # fmt: skip


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json")) -> None:
    """The image models in the registry."""
    from genloom.registry import Registry

    reg = Registry.open()
    try:
        rows = [v.to_dict() for v in reg.list("image")]
    finally:
        reg.close()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        cur = " (current)" if r["current"] else ""
        ev = r["metrics"].get("eval", {})
        score = f"FID {ev['fid']}" if "fid" in ev else "not evaluated"
        console.print(
            f"{r['ref']}{cur}  {r['config'].get('kind')}  {score}  {json.dumps(r['config'].get('data'))}"
        )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="image")
