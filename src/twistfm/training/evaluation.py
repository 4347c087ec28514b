"""Predictions and metrics of a trained network: batched logits, test-time augmentation, the final metrics."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..models import INFERENCE_BATCH, count_parameters, inference_layout
from .steps import autocast

if TYPE_CHECKING:
    from .loop import Loop

__all__ = ["predict", "evaluate", "scores_of", "read_test", "final_metrics"]


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = INFERENCE_BATCH, tta: bool = False,
            precision: str = "fp32") -> torch.Tensor:
    """Logits for every image of ``x`` (float32 NCHW), batched, in eval mode.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor
        Images, float32 N x C x H x W.
    batch_size : int, default=INFERENCE_BATCH
    tta : bool, default=False
        Test-time augmentation: the logits are the mean over each image and its horizontal mirror.
    precision : {"fp32", "bf16"}, default="fp32"

    Returns
    -------
    torch.Tensor
        N x labels float32 logits, on the CPU.
    """
    model.eval()
    device = next(model.parameters()).device
    out = []
    with inference_layout(model) as layout:
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device).contiguous(memory_format=layout)
            with autocast(device, precision):
                logits = model(xb).float()
                if tta:
                    logits = (logits + model(xb.flip(3)).float()) / 2
            out.append(logits.cpu())
    return torch.cat(out) if out else torch.empty(0)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, tta: bool = False,
             precision: str = "fp32") -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``model`` on (x, y); NaN for no images."""
    if len(x) == 0:
        return float("nan"), float("nan")  # without running the model
    return scores_of(predict(model, x, tta=tta, precision=precision), y)


def scores_of(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy of ``logits`` against ``y``; NaN for no images."""
    if len(y) == 0:
        return float("nan"), float("nan")
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def read_test(loop: Loop) -> tuple[torch.Tensor, float]:
    """The test images' logits as the final metrics read them (with TTA where configured), and the seconds taken."""
    start = time.perf_counter()
    logits = predict(loop.averaged, loop.splits.x_test, tta=loop.config.tta, precision=loop.precision)
    return logits, time.perf_counter() - start


def final_metrics(loop: Loop, stopped: bool) -> dict[str, Any]:
    """``metrics.json``: the test images read as configured (with TTA if asked), timings, confusion, sizes."""
    history = loop.history
    # The last epoch read the test images just so (not when training stopped early or nothing was left to train).
    logits, infer = loop.final_logits if loop.final_logits is not None else read_test(loop)
    y = loop.splits.y_test
    pred = logits.argmax(1)
    k = logits.shape[1]
    confusion = torch.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    train_seconds = sum(h["epoch_time"] for h in history)
    last = history[-1]
    return {
        "test_acc": (pred == y).float().mean().item(),
        "test_loss": F.cross_entropy(logits, y).item(),
        "train_acc": last["train_acc"], "val_acc": last["val_acc"], "val_loss": last["val_loss"],
        "epochs": len(history),
        "stopped_early": stopped,
        "training_seconds": train_seconds,
        "evaluation_seconds": sum(h["eval_time"] for h in history),
        "train_images_per_second": len(loop.splits.x_fit) * len(history) / train_seconds,
        "test_inference_seconds": infer,
        "test_images_per_second": len(y) / infer,
        "confusion": confusion.tolist(),
        "parameters": count_parameters(loop.averaged),
        "device": str(loop.device),
        "threads": torch.get_num_threads(),
        "precision": loop.precision,
        "precision_reason": loop.precision_reason,
    }
