"""Size of a toy teacher: defaults, the study config's short aliases, and their checks (no torch)."""

from __future__ import annotations

DEFAULT_SIZE: dict = {
    "text_width": 128,
    "text_layers": 4,
    "text_heads": 4,
    "text_mlp_ratio": 2.0,
    "vision_width": 128,
    "vision_layers": 2,
    "vision_heads": 4,
    "vision_mlp_ratio": 2.0,
    "patch_size": 8,
    "vision_type": "vit",
    "image_size": 32,
    "embed_dim": 128,
    "context_length": 32,
    "init_logit_scale": 10.0,    # siglip2 only (exp'd); clip keeps open_clip's 1/0.07
    "init_logit_bias": -10.0,    # siglip2 only
}


#: short keys of a study config's ``toy:`` block and the size keys they set
ALIASES: dict = {
    "layers": ("text_layers",),
    "width": ("text_width", "vision_width", "embed_dim"),
    "heads": ("text_heads", "vision_heads"),
    "mlp_ratio": ("text_mlp_ratio", "vision_mlp_ratio"),
}


def resolve_size(size_config: dict | None, key: str = "toy size") -> dict:
    """Defaults updated by ``size_config`` (aliases first, then explicit keys); errors start with ``key``."""
    size = dict(DEFAULT_SIZE)
    given = dict(size_config or {})
    unknown = set(given) - set(DEFAULT_SIZE) - set(ALIASES)
    if unknown:
        raise ValueError(f"unknown toy size keys {sorted(unknown)}; known: {sorted(DEFAULT_SIZE) + sorted(ALIASES)}")
    for alias, keys in ALIASES.items():
        if alias in given:
            for k in keys:
                size[k] = given[alias]
    size.update({k: v for k, v in given.items() if k in DEFAULT_SIZE})
    for k in ("text_width", "vision_width"):
        heads = size[k.replace("width", "heads")]
        if size[k] % heads:
            raise ValueError(f"{key}: {k}={size[k]} is not divisible by {k.replace('width', 'heads')}={heads}")
    if size["image_size"] % size["patch_size"]:
        raise ValueError(f"{key}: image_size={size['image_size']} is not a multiple of patch_size")
    return size
