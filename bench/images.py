"""Image models on sklearn's 8x8 digits after a fixed CPU budget each: FID / IS / precision / recall /
accuracy / memorisation, with the baselines (training set, held-out set, Gaussian noise) scored in the same
run; DDPM vs DDIM samples per second; FID against sampling steps and guidance; sample grids for the docs.

    nice -n 10 python bench/images.py --cpu-minutes 3 --n 250 --out docs/images --json bench/images.json

FID ratios are against the held-out baseline (new real digits: 1.0 = as good as real data); speed ratios
against DDPM's 1000 steps. The feature network is a small CNN trained on the training split (no Inception).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from genloom.image.artifact import ImageModel
from genloom.image.data import to_uint8
from genloom.image.evaluate import Evaluator
from genloom.image.pipeline import DiffusionPipeline
from genloom.image.png import save_grid
from genloom.image.train import TrainOptions, register, train
from genloom.settings import Settings


def log(*a: Any) -> None:
    print(*a, file=sys.stderr, flush=True)


def sample_ddpm(m: ImageModel, n: int, steps: int, sampler: str, guidance: float, seed: int = 0
                ) -> tuple[torch.Tensor, list[int], float]:  # fmt: skip
    """n class-round-robin samples in one batch, and the seconds it took."""
    labels = [i % len(m.classes) for i in range(n)]
    pipe = DiffusionPipeline(m.net, m.meta["config"]["scheduler"], len(m.classes))
    t0 = time.perf_counter()
    x = pipe(list(range(seed, seed + n)), labels, steps=steps, sampler=sampler, guidance=guidance)
    return x, labels, time.perf_counter() - t0


def dump(res: dict[str, Any], path: Path | None) -> None:
    """Write what is measured so far (a late failure keeps the earlier results)."""
    if path is not None:
        path.write_text(json.dumps(res, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu-minutes", type=float, default=3.0, help="training budget per model (CPU time)")
    ap.add_argument("--n", type=int, default=250, help="images per scored set")
    ap.add_argument("--out", type=Path, default=Path("docs/images"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--models", default="ddpm,vae,gan")
    ap.add_argument("--curve-n", type=int, default=150, help="images per point of the steps/guidance curves")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--home", type=Path, default=None, help="GENLOOM_HOME (the feature net is cached there)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    home = args.home or Path(tempfile.mkdtemp(prefix="genloom-bench-images-"))
    s = Settings(home=home)
    args.out.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {
        "cpu_minutes": args.cpu_minutes,
        "n": args.n,
        "torch_threads": torch.get_num_threads(),
    }

    t0 = time.perf_counter()
    from genloom.image.data import load_data

    ev = Evaluator.for_data(load_data("digits"), settings=s)
    res["feature_net"] = {**ev.net_info, "seconds": round(time.perf_counter() - t0, 1)}
    log("feature net", res["feature_net"])
    base = ev.baselines(args.n)
    res["baselines"] = base
    log("baselines", {k: v["fid"] for k, v in base.items()})
    assert ev.train.labels is not None
    idx = torch.cat([torch.nonzero(ev.train.labels == c)[:8, 0] for c in range(10)])
    real = ev.train.images[idx]
    save_grid(args.out / "digits-real.png", to_uint8(real), cols=8, scale=4)

    models: dict[str, ImageModel] = {}
    res["models"] = {}
    for kind in args.models.split(","):
        log(f"training {kind} for {args.cpu_minutes} CPU-minutes")
        run = train(TrainOptions(kind=kind, epochs=10_000, cpu_minutes=args.cpu_minutes, grid=False),
                    home / "runs" / kind)  # fmt: skip
        v = register(run, f"digits-{kind}", s)
        m = models[kind] = ImageModel.load(v.path, v.ref)
        t1 = time.perf_counter()
        gen = {"steps": 50, "sampler": "ddim", "guidance": 2.0} if kind == "ddpm" else {}
        score = ev.report(m, args.n, 0, **gen)
        score.update({"train_steps": run.steps, "train_epochs": round(run.epochs_done, 1),
                      "train_wall_s": round(run.seconds, 1), "final_loss": run.history[-1] if run.history else None,
                      "eval_s": round(time.perf_counter() - t1, 1), "settings": gen,
                      "fid_vs_held_out": round(score["fid"] / base["held_out"]["fid"], 2)})  # fmt: skip
        res["models"][kind] = score
        dump(res, args.json)
        log(kind, {k: score[k] for k in ("fid", "is", "precision", "recall", "copy_rate", "train_steps")})
        grid_seeds = list(range(80))
        if kind == "ddpm":
            x, _, _ = sample_ddpm(m, 80, 50, "ddim", 2.0)
        else:
            x = m.generate(64, 0).images
            grid_seeds = grid_seeds[:64]
        save_grid(args.out / f"{kind}-samples.png", to_uint8(x), cols=8, scale=4)

    if "vae" in models:
        vae = models["vae"].net
        held = ev.held_out.images[:8]
        rec = vae.reconstruct(held).cpu()
        save_grid(args.out / "vae-reconstruction.png", to_uint8(torch.cat([held, rec])), cols=8, scale=4)
        rows = [
            vae.interpolate(ev.held_out.images[2 * i], ev.held_out.images[2 * i + 1], 8) for i in range(4)
        ]
        save_grid(args.out / "vae-interpolation.png", to_uint8(torch.cat(rows)), cols=8, scale=4)

    if "ddpm" in models:
        m = models["ddpm"]
        speed: dict[str, Any] = {}
        for sampler, steps in (("ddpm", 1000), ("ddim", 100), ("ddim", 50), ("ddim", 25), ("ddim", 10)):
            _, _, sec = sample_ddpm(m, 8, steps, sampler, 2.0)
            speed[f"{sampler}-{steps}"] = {"samples_per_s": round(8 / sec, 3), "seconds_8": round(sec, 2)}
            log("speed", sampler, steps, speed[f"{sampler}-{steps}"])
        ref = speed["ddpm-1000"]["samples_per_s"]
        for v in speed.values():
            v["x_vs_ddpm_1000"] = round(v["samples_per_s"] / ref, 1)
        res["speed"] = speed
        dump(res, args.json)
        curve: dict[str, Any] = {}
        for sampler, steps in (
            ("ddim", 5),
            ("ddim", 10),
            ("ddim", 25),
            ("ddim", 50),
            ("ddpm", 25),
            ("ddpm", 100),
        ):
            x, labels, sec = sample_ddpm(m, args.curve_n, steps, sampler, 2.0)
            sc = ev.score(x, labels)
            curve[f"{sampler}-{steps}"] = {k: sc[k] for k in ("fid", "is", "precision", "recall", "accuracy")}
            curve[f"{sampler}-{steps}"]["seconds"] = round(sec, 1)
            log("curve", sampler, steps, curve[f"{sampler}-{steps}"])
        res["fid_vs_steps"] = curve
        dump(res, args.json)
        guide: dict[str, Any] = {}
        for w in (0.0, 1.0, 3.0):
            x, labels, _ = sample_ddpm(m, args.curve_n, 25, "ddim", w)
            sc = ev.score(x, labels)
            guide[str(w)] = {k: sc[k] for k in ("fid", "is", "precision", "recall", "accuracy")}
            log("guidance", w, guide[str(w)])
        res["guidance"] = guide
    res["total_s"] = round(time.perf_counter() - t0, 1)
    dump(res, args.json)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
