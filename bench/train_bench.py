"""Training benchmark on the full Twisted Fashion-MNIST: throughput against the machine's limit, and recipes.

Usage:
  python bench/train_bench.py throughput            # cm1 images/s and % of the matrix-multiply limit, same run
  python bench/train_bench.py inference             # evaluation and encoding images/s per batch size, per model
  python bench/train_bench.py RECIPE [--seeds 0 1 2] # train a recipe; test accuracy, training time, images/s
  ... [--kinds native avx2]                          # the kinds of CPU to run on (default: both; see _kinds.py)

``throughput`` measures, side by side in one run: this machine's float32 (and bfloat16)
matrix-multiply GFLOPS; cm1's training images/s at batch 64 through twistfm's own training
step (fp32 and bf16) and the share of the limit that is (FLOPs per image counted by
PyTorch's FLOP counter, forward and backward); channels-last against the default layout for
cm1 and tfm-small; the seeds' batch-10 Adam recipe's images/s; and an epoch of the quick
recipe (in the precision "auto" chooses) with its evaluation seconds against its training
seconds. Every figure is printed for each kind of CPU (the machine as it is, and AVX2 only),
each kind in its own child process, one after the other.

``inference`` measures, for each network of the studies, the images/s of ``predict`` (the
evaluation each epoch and the final metrics) and of ``encode`` (every analysis) on the 10,000
test images at several batch sizes, in fp32 (the best of three passes each): the batch the
library uses (``INFERENCE_BATCH``) is chosen from these figures.

A recipe (see ``twistfm.recipes``) is trained on all 60,000 training images once per seed;
each run's test accuracy, training minutes (evaluation excluded) and images/s are printed,
then the mean, standard deviation, minimum and maximum of the test accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from _kinds import main_for_kinds
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
    result = fit(config, load_dataset().subset(n, 200), log=None)
    return result.metrics["train_images_per_second"]


def layout_images_per_second(model_name: str, channels_last: bool, precision: str, batch: int = 128,
                             steps: int = 60) -> float:
    """Training images/s of plain Adam steps in one memory layout (what the loop's channels-last choice rests on)."""
    model = create_model(model_name, 5)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    optimizer = torch.optim.Adam(model.parameters(), fused=True)
    x = torch.rand(batch, 1, 28, 28).contiguous(memory_format=fmt)
    y = torch.randint(0, 5, (batch,))
    for i in range(steps + 5):
        if i == 5:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return batch * steps / (time.perf_counter() - start)


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
    for model_name in ("cm1", "tfm-small"):
        for precision in ("fp32", "bf16"):
            plain = layout_images_per_second(model_name, False, precision)
            last = layout_images_per_second(model_name, True, precision)
            print(f"{model_name} batch 128 {precision}: channels-last {last:,.0f} images/s, default layout "
                  f"{plain:,.0f} images/s (channels-last {last / plain:.2f}x)")
    seeds = recipe("seed-cm1-adam", epochs=1, val_split=0.0)
    print(f"the seeds' cm1 recipe (Adam, batch 10): {images_per_second(seeds, 10 * 1500):,.0f} images/s (target 1,700)")
    ds = load_dataset()
    for name in ("quick-cm1", "quick"):
        result = fit(recipe(name, epochs=2), ds, log=None)
        first, last = result.history
        print(f"{name} recipe ({result.metrics['precision']}), 2 epochs: training {first['epoch_time']:.1f} s + "
              f"{last['epoch_time']:.1f} s; evaluation {first['eval_time']:.1f} s after epoch 1 (validation only, "
              f"{first['eval_time'] / first['epoch_time']:.0%} of its training), {last['eval_time']:.1f} s after the "
              f"last (validation and test{', with flip TTA' if result.metrics and recipe(name).tta else ''}); "
              f"test accuracy {result.metrics['test_acc']:.4f}")


def best_seconds(work, repeats: int = 3) -> float:
    """The fastest of ``repeats`` timings of ``work()`` (the others are the machine's noise)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def inference(batches: tuple[int, ...] = (32, 64, 128, 256, 500, 1000)) -> None:
    from twistfm.encode import encode, layer_names
    from twistfm.models import INFERENCE_BATCH, to_input
    from twistfm.training.evaluation import predict

    images = load_dataset().x_test
    x = to_input(images)
    print(f"the library's inference batch: {INFERENCE_BATCH}")
    for name in ("cm1", "model-a", "tfm-small", "tfm-res"):
        model = create_model(name, 5)
        layer = layer_names(model)[-2]
        row = []
        for batch in batches:
            predict(model, x[:2000], batch_size=batch)
            logits = len(x) / best_seconds(lambda m=model, b=batch: predict(m, x, batch_size=b))
            codes = len(x) / best_seconds(lambda m=model, b=batch, n=layer: encode(m, images, n, batch_size=b))
            row.append(f"{batch}: {logits:,.0f} / {codes:,.0f}")
        print(f"{name} images/s at batch (predict / encode {layer}): " + "; ".join(row), flush=True)


def train_recipe(name: str, seeds: list[int], kind: str) -> None:
    dataset = load_dataset()
    accs, runs = [], []
    for seed in seeds:
        config = recipe(name, seed=seed)
        start = time.perf_counter()
        result = fit(config, dataset, RunDir.create(f"bench-{name}", os.environ.get("TWISTFM_BENCH_RUNS", "runs/bench")),
                     log=lambda line, s=seed: print(f"  [{name} seed {s}] {line}", flush=True))
        m = result.metrics
        accs.append(m["test_acc"])
        runs.append({"recipe": name, "seed": seed, "kind": kind, "precision": m["precision"], "run": str(result.run),
                     "config": config.to_json(),
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

    def run(args: argparse.Namespace) -> None:
        if args.part == "throughput":
            throughput()
        elif args.part == "inference":
            inference()
        else:
            train_recipe(args.part, args.seeds, args.kind)

    main_for_kinds(parser, run)


if __name__ == "__main__":
    main()
