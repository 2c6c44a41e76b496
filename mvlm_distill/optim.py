"""The optimiser and learning-rate schedule of both training loops: toy-teacher pretraining
(``models/pretrain.py``) and distillation (``distill/trainer.py``).

* AdamW with weight decay on weight matrices only: parameters with fewer than two dimensions
  (biases, norm scales), norms, embeddings and the logit scale/bias are not decayed.
* The learning rate is a pure function of the step, so a resumed run needs no schedule state:
  linear warmup to the peak over ``warmup`` steps, then cosine decay to zero at ``steps``.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch


def decays(name: str, parameter: torch.Tensor) -> bool:
    """Whether weight decay applies to a parameter (by its ``named_parameters`` name)."""
    no_decay = parameter.ndim < 2 or "logit_" in name or "embedding" in name or "norm" in name.lower() or "bias" in name
    return not no_decay


def parameter_groups(named_parameters: Iterable[tuple[str, torch.nn.Parameter]], weight_decay: float) -> list[dict]:
    """Two AdamW groups of the trainable parameters: decayed and not (``decays``)."""
    decay, no_decay = [], []
    for name, p in named_parameters:
        if p.requires_grad:
            (decay if decays(name, p) else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def adamw(named_parameters, lr: float, weight_decay: float, **kwargs) -> torch.optim.AdamW:
    """AdamW over ``parameter_groups``; ``kwargs`` are AdamW's own (betas, eps, foreach)."""
    return torch.optim.AdamW(parameter_groups(named_parameters, weight_decay), lr=lr, **kwargs)


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    """Learning rate of 0-based ``step``: linear warmup to ``peak``, then cosine decay to 0."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(1.0, progress)))


def apply_schedule(optimizer: torch.optim.Optimizer, step: int, steps: int, peak: float, warmup: int) -> float:
    """Set every group's learning rate for ``step`` (``lr_at``); returns it."""
    lr = lr_at(step, steps, peak, warmup)
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


__all__ = ["adamw", "apply_schedule", "decays", "lr_at", "parameter_groups"]
