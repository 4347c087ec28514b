"""Seed 000's LeakyReLU network: every reading its text allows, trained and scored.

Usage: python bench/leaky_readings.py [--epochs 30] [--seeds 0] [--pool floor ceil] [--first-pool input conv none]
       [--conv-act relu linear leaky] [--units 64 128] [--momentum 0 0.9] [--threads N] [--out FILE]

The seed lists the layers (a LeakyReLU on the input, three 32-filter convolutions each
followed by 2x2 pooling, a LeakyReLU after the third, a hidden dense layer with a
LeakyReLU, the output) and says "SGD", but not: the activation of the first two
convolutions, how pooling treats odd sizes, the dense width, the SGD momentum or the number
of epochs. Each combination is trained with the seed recipe's other settings (batch 32, the
last 20% held out, learning rate 0.01) and its test accuracy printed after 10, 20 and 30
epochs (the learning rate is constant, so epoch 10 of a 30-epoch run is a 10-epoch run).
The seed's own count is 9,373 of 10,000 test images right (93.73 %).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import tempfile
import time

import torch

from twistfm.data import load_dataset
from twistfm.recipes import recipe
from twistfm.runs import RunDir
from twistfm.train import fit

SEED_TEST_ACC = 0.9373
READINGS = {
    "pool": ("floor", "ceil"),
    "first_pool": ("input", "conv", "none"),
    "conv_act": ("relu", "linear", "leaky"),
    "units": (64, 128),
    "momentum": (0.0, 0.9),
    "lr": (0.01,),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="runs/bench/leaky-readings.json")
    for name, values in READINGS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", nargs="+", type=type(values[0]), default=list(values),
                            help=f"readings of {name} to try (default: all of {values})")
    args = parser.parse_args()
    grid = {name: getattr(args, name) for name in READINGS}
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    dataset = load_dataset()
    marks = [e for e in (10, 20, 30, 40, 50) if e <= args.epochs]
    print("| pool | first pool | conv act | units | momentum | lr | seed | " + " | ".join(f"test acc @{e}" for e in marks)
          + " | train acc | seconds/epoch |", flush=True)
    print("|---" * (9 + len(marks)) + "|", flush=True)
    results = []
    for (pool, first, act, units, momentum, lr), seed in itertools.product(itertools.product(*grid.values()), args.seeds):
        config = recipe("seed-leaky", epochs=args.epochs, momentum=momentum, lr=lr, seed=seed,
                        model_args={"pool": pool, "first_pool": first, "conv_act": act, "units": units})
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            result = fit(config, dataset, RunDir.create("leaky", tmp), log=None)
        per_epoch = (time.perf_counter() - start) / args.epochs
        accs = [result.history[e - 1]["test_acc"] for e in marks]
        results.append({"pool": pool, "first_pool": first, "conv_act": act, "units": units, "momentum": momentum,
                        "lr": lr, "seed": seed, "test_acc": {str(e): a for e, a in zip(marks, accs, strict=True)},
                        "train_acc": result.history[-1]["train_acc"]})
        print(f"| {pool} | {first} | {act} | {units} | {momentum:g} | {lr:g} | {seed} | "
              + " | ".join(f"{a:.4f}" for a in accs)
              + f" | {result.history[-1]['train_acc']:.4f} | {per_epoch:.1f} |", flush=True)
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as handle:  # after every reading, so an interrupted grid keeps what it measured
            json.dump({"seed_test_acc": SEED_TEST_ACC, "results": results}, handle, indent=1)
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
