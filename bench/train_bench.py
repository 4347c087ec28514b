"""Training benchmark on the full Twisted Fashion-MNIST: throughput against the machine's limit, and recipes.

Usage:
  python bench/train_bench.py throughput            # cm1 images/s and % of the matrix-multiply limit, same run
  python bench/train_bench.py RECIPE [--seeds 0 1 2] # train a recipe; test accuracy, training time, images/s

``throughput`` measures, side by side in one run: this machine's float32 (and bfloat16)
matrix-multiply GFLOPS; cm1's training images/s at batch 64 through twistfm's own training
step (fp32 and bf16) and the share of the limit that is (FLOPs per image counted by
PyTorch's FLOP counter, forward and backward); the seeds' batch-10 Adam recipe's images/s;
and an epoch's evaluation seconds against its training seconds.

A recipe (see ``twistfm.recipes``) is trained on all 60,000 training images once per seed;
each run's test accuracy, training minutes (evaluation excluded) and images/s are printed,
then the mean, standard deviation, minimum and maximum of the test accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from twistfm.data import load_dataset
from twistfm.models import create_model
from twistfm.recipes import recipe
from twistfm.runs import RunDir
from twistfm.train import TrainConfig, fit


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 2048, seconds: float = 3.0) -> float:
    """Measured matrix-multiply GFLOPS of this machine with PyTorch's threads."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * n**3 * count / (time.perf_counter() - start) / 1e9


def flops_per_image(model_name: str, batch: int = 64) -> float:
    """Forward plus backward FLOPs per training image, as PyTorch's FLOP counter counts them."""
    model = create_model(model_name, 5)
    x, y = torch.rand(batch, 1, 28, 28), torch.randint(0, 5, (batch,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / batch


def images_per_second(config: TrainConfig, n: int) -> float:
    """Training images/s of one epoch on the first ``n`` training images, through twistfm's own loop."""
    ds = load_dataset().subset(n, 200)
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(config, ds, RunDir.create("throughput", tmp), log=None)
    return result.metrics["train_images_per_second"]


def throughput() -> None:
    limit = matmul_gflops()
    limit_bf16 = matmul_gflops(torch.bfloat16)
    per_image = flops_per_image("cm1")
    print(f"matmul: {limit:.1f} GFLOPS float32, {limit_bf16:.1f} GFLOPS bfloat16 (2048 x 2048, "
          f"{torch.get_num_threads()} threads)")
    print(f"cm1: {per_image / 1e6:.2f} MFLOP per training image (forward and backward)")
    for precision in ("fp32", "bf16"):
        config = TrainConfig(model="cm1", optimizer="adam", batch_size=64, epochs=1, val_split=0.0, precision=precision)
        ips = images_per_second(config, 64 * 300)
        achieved = ips * per_image / 1e9
        print(f"cm1 batch 64 {precision}: {ips:,.0f} images/s = {achieved:.1f} GFLOPS = {achieved / limit:.1%} of the "
              f"float32 matmul limit")
    seeds = recipe("seed-cm1-adam", epochs=1, val_split=0.0)
    print(f"the seeds' cm1 recipe (Adam, batch 10): {images_per_second(seeds, 10 * 1500):,.0f} images/s (target 1,700)")
    ds = load_dataset()
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(recipe("quick", epochs=1), ds, RunDir.create("eval", tmp), log=None)
    row = result.history[0]
    print(f"quick recipe, one epoch: training {row['epoch_time']:.1f} s, evaluation {row['eval_time']:.1f} s "
          f"({row['eval_time'] / row['epoch_time']:.0%} of training)")


def train_recipe(name: str, seeds: list[int]) -> None:
    dataset = load_dataset()
    accs, runs = [], []
    for seed in seeds:
        config = recipe(name, seed=seed)
        start = time.perf_counter()
        result = fit(config, dataset, RunDir.create(f"bench-{name}", os.environ.get("TWISTFM_BENCH_RUNS", "runs/bench")),
                     log=lambda line, s=seed: print(f"  [{name} seed {s}] {line}", flush=True))
        m = result.metrics
        accs.append(m["test_acc"])
        runs.append({"recipe": name, "seed": seed, "run": str(result.run), "config": config.to_json(),
                     "test_acc": m["test_acc"], "training_seconds": m["training_seconds"],
                     "evaluation_seconds": m["evaluation_seconds"], "epochs": m["epochs"],
                     "train_images_per_second": m["train_images_per_second"],
                     "test_images_per_second": m["test_images_per_second"], "parameters": m["parameters"],
                     "wall_seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d")})
        print(f"{name} seed {seed}: test accuracy {m['test_acc']:.4f}; training {m['training_seconds'] / 60:.1f} min "
              f"(wall {(time.perf_counter() - start) / 60:.1f} min, {m['epochs']} epochs, "
              f"{m['train_images_per_second']:,.0f} images/s); run {result.run}", flush=True)
    if len(accs) > 1:
        print(f"{name}: test accuracy mean {statistics.mean(accs):.4f}, sd {statistics.stdev(accs):.4f}, "
              f"min {min(accs):.4f}, max {max(accs):.4f} over seeds {seeds}")
    out = Path(os.environ.get("TWISTFM_BENCH_RUNS", "runs/bench")) / f"recipe-{name}.json"
    records = json.loads(out.read_text()) if out.is_file() else []
    out.write_text(json.dumps(records + runs, indent=1))
    print(f"written: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", help="throughput, or a recipe name")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    if args.part == "throughput":
        throughput()
    else:
        train_recipe(args.part, args.seeds)


if __name__ == "__main__":
    main()
