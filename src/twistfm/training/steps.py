"""What one training step is made of: the optimiser, the learning rate at a step, augmentation, precision.

Each is a pure function of its inputs and a seeded generator, so an epoch is a pure
function of (weights, optimiser state, seed, epoch number) and a resumed run repeats an
uninterrupted one exactly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ..machine import choose_precision, native_bf16

if TYPE_CHECKING:
    from ..train import TrainConfig

__all__ = ["epoch_seed", "lr_at", "make_optimizer", "optimizer_to", "erase", "augment", "autocast", "run_precision"]

#: One-cycle: the share of the steps over which the rate rises (from 4 % of the peak), before its cosine descent.
ONECYCLE_WARMUP = 0.25


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch`` (counted from 0) of a run of ``seed``: its shuffle, augmentation and dropout."""
    return (seed * 1_000_003 + epoch * 7919) % (2**63)


def lr_at(config: TrainConfig, step: int, total: int) -> float:
    """Learning rate at global ``step`` of ``total`` (a pure function, so resuming needs no state).

    "constant": ``lr``; "cosine": ``lr * (1 + cos(pi * step / total)) / 2``; "onecycle": a
    linear rise from ``0.04 lr`` to ``lr`` over the first quarter of the steps, then the same
    cosine down to ``1e-6`` over the rest.
    """
    if config.schedule == "constant":
        return config.lr
    progress = step / max(1, total)
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * progress))
    warm = ONECYCLE_WARMUP
    if progress < warm:
        return config.lr * (0.04 + 0.96 * progress / warm)
    return config.lr * (0.5 * (1 + math.cos(math.pi * (progress - warm) / (1 - warm)))) + 1e-6


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The optimiser, in its fused form: one kernel updates every parameter (fewer, larger steps on a CPU)."""
    params = list(model.parameters())
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                               nesterov=config.nesterov and config.momentum > 0, fused=True)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)


def optimizer_to(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Give the optimiser's state tensors their parameters' device and memory layout (after loading a checkpoint).

    A fused optimiser walks a parameter and its state as flat memory, so a state tensor
    read back contiguous must take its channels-last parameter's strides again.
    """
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and key != "step":
                    if value.shape == param.shape:
                        state[key] = torch.empty_like(param).copy_(value)
                    else:
                        state[key] = value.to(device)


def erase(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """Random erasing: with probability ``p``, zero a random rectangle (2-25 % of the area) of each image."""
    n, _, h, w = x.shape
    chosen = torch.rand(n, generator=gen) < p
    area = torch.empty(n).uniform_(0.02, 0.25, generator=gen) * h * w
    ratio = torch.exp(torch.empty(n).uniform_(math.log(0.3), math.log(3.3), generator=gen))
    eh = (area * ratio).sqrt().round().clamp(1, h).long()
    ew = (area / ratio).sqrt().round().clamp(1, w).long()
    y0 = (torch.rand(n, generator=gen) * (h - eh + 1)).long()
    x0 = (torch.rand(n, generator=gen) * (w - ew + 1)).long()
    rows, cols = torch.arange(h)[None, :], torch.arange(w)[None, :]
    inside = (((rows >= y0[:, None]) & (rows < (y0 + eh)[:, None]))[:, :, None]
              & ((cols >= x0[:, None]) & (cols < (x0 + ew)[:, None]))[:, None, :])
    return x.masked_fill((inside & chosen[:, None, None])[:, None], 0.0)


def augment(x: torch.Tensor, gen: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Random horizontal flips and shifts of up to ``shift`` pixels, batched (any channels and size)."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    if x.shape[1] == 1:  # grey: the indexing the recorded runs were trained with (same draws, same numbers)
        base = torch.arange(x.shape[2])
        rows = (base[None, :] + dy[:, None])[:, :, None]
        cols = (torch.arange(x.shape[3])[None, :] + dx[:, None])[:, None, :]
        return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
    rows = (torch.arange(x.shape[2])[None, :] + dy[:, None])[:, None, :, None]
    cols = (torch.arange(x.shape[3])[None, :] + dx[:, None])[:, None, None, :]
    return padded[torch.arange(n)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bfloat16 autocast for "bf16", nothing for "fp32"."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def run_precision(config: TrainConfig, device: torch.device, kept: str | None,
                  log: Callable[[str], None] | None, main: bool) -> tuple[str, str]:
    """The precision to train in and why: ``kept`` (a resumed run's), else the machine's choice for ``config``.

    An explicit "bf16" on a device that only emulates it is warned about once (by process 0).
    """
    if kept is not None:
        return kept, f"{kept} (the precision this run started with)"
    used, reason = choose_precision(config.precision, device)
    if config.precision == "bf16" and not native_bf16(device)[0] and main:
        line = (f"warning: --precision bf16 on a device without native bfloat16: training will be several "
                f"times slower than in fp32 ({reason}); use --precision auto or fp32")
        if log is not None:
            log(line)
        else:
            warnings.warn(line, stacklevel=3)
    return used, reason
