"""The denoising model: diffusers' ``UNet2DModel``, sized for the image, optionally class-conditional.

Class conditioning is a learned embedding added to the timestep embedding (``num_class_embeds``); the extra
last index is the *null* class that classifier-free guidance trains with (label dropout) and samples against.
"""

from __future__ import annotations

from typing import Any


def unet_config(size: int, channels: int, num_classes: int | None, width: int = 32) -> dict[str, Any]:
    """A UNet for ``size`` x ``size`` images: 2 resolution levels at 8 px, 3 up to 32 px, 4 above.

    Attention runs only at the lowest resolution (cheap there, and it is where global shape is decided).
    """
    levels = 2 if size <= 8 else 3 if size <= 32 else 4
    widths = tuple(width * min(2**i, 4) for i in range(levels))
    down = ["DownBlock2D"] * (levels - 1) + ["AttnDownBlock2D"]
    up = ["AttnUpBlock2D"] + ["UpBlock2D"] * (levels - 1)
    cfg: dict[str, Any] = {
        "sample_size": size,
        "in_channels": channels,
        "out_channels": channels,
        "block_out_channels": widths,
        "down_block_types": tuple(down),
        "up_block_types": tuple(up),
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "attention_head_dim": 8,
    }
    if num_classes:
        cfg["num_class_embeds"] = num_classes + 1  # + the null class
    return cfg


def build_unet(config: dict[str, Any]) -> Any:
    from diffusers import UNet2DModel

    return UNet2DModel(**config)
