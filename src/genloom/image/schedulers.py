"""Noise schedulers: diffusers' ``DDPMScheduler`` for training and ancestral sampling, ``DDIMScheduler`` (the
same noise schedule) for deterministic sampling in fewer steps."""

from __future__ import annotations

from typing import Any

from genloom.errors import UserError

SAMPLERS = ("ddpm", "ddim")


def scheduler_config(timesteps: int = 1000) -> dict[str, Any]:
    return {
        "num_train_timesteps": timesteps,
        "beta_schedule": "squaredcos_cap_v2",  # the cosine schedule: better than linear for small images
        "prediction_type": "epsilon",
        "clip_sample": True,
    }


def make_scheduler(sampler: str, config: dict[str, Any]) -> Any:
    from diffusers import DDIMScheduler, DDPMScheduler

    if sampler == "ddpm":
        return DDPMScheduler(**config)
    if sampler == "ddim":
        return DDIMScheduler(**config)
    raise UserError(f"unknown sampler {sampler!r}", hint=f"use one of {', '.join(SAMPLERS)}")
