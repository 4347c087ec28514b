"""Training benchmark on the full Twisted Fashion-MNIST: accuracy, wall-clock time, throughput.

Usage: python bench/train_bench.py [cm1] [best] [stretch] [throughput]   (default: all but stretch)

Prints, for each part:
- cm1: trained as seed 002 did (Adam, batch 10, 10 epochs, validation split 0.2): test accuracy.
- best: our best recipe within a 30-minute budget: test accuracy and training time.
- stretch: the same recipe with a larger budget.
- throughput: cm1's training images/s at batch 64 next to a measured matrix-multiply GFLOPS
  figure of this machine, and the fraction of that limit cm1 reaches.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import torch

from twistfm.data import load_dataset
from twistfm.recipes import recipe
from twistfm.runs import RunDir
from twistfm.train import TrainConfig, fit

RUNS = Path(os.environ.get("TWISTFM_BENCH_RUNS", "runs/bench"))
CM1_FLOP_PER_IMAGE = 3 * 2 * 2.06e6  # training step = ~3x the forward multiply-adds, 2 FLOP each

RECIPES = {"cm1": "seed-cm1-adam", "best": "best", "stretch": "stretch"}


def matmul_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matrix-multiply GFLOPS of this machine with PyTorch's threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def cm1_throughput(batch_size: int = 64, steps: int = 200) -> float:
    """cm1 training images/s at ``batch_size``, through twistfm's own training step."""
    ds = load_dataset().subset(batch_size * steps, 100)
    config = TrainConfig(model="cm1", optimizer="adam", batch_size=batch_size, epochs=1, val_split=0.0)
    result = fit(config, ds, RunDir.create("cm1-throughput", RUNS), log=None)
    return result.metrics["train_images_per_second"]


def main(parts: list[str]) -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads")
    dataset = load_dataset()
    for part in parts:
        if part == "throughput":
            gflops = matmul_gflops()
            ips = cm1_throughput()
            achieved = ips * CM1_FLOP_PER_IMAGE / 1e9
            print(f"throughput: matmul {gflops:.1f} GFLOPS; cm1 batch 64: {ips:.0f} images/s = "
                  f"{achieved:.1f} GFLOPS = {achieved / gflops:.1%} of the matmul limit")
            continue
        config = recipe(RECIPES[part])
        start = time.perf_counter()
        result = fit(config, dataset, RunDir.create(config.model, RUNS),
                     log=lambda line, part=part: print(f"  [{part}] {line}", flush=True))
        wall = time.perf_counter() - start
        m = result.metrics
        print(f"{part}: model {config.model} {config.model_args or ''} test accuracy {m['test_acc']:.4f} "
              f"test loss {m['test_loss']:.4f}; training {m['training_seconds'] / 60:.1f} min "
              f"(wall {wall / 60:.1f} min, {m['epochs']} epochs, {m['train_images_per_second']:.0f} images/s); "
              f"run {result.run}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["throughput", "cm1", "best"])
