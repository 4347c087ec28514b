"""Write docs/results.md from the runs' own files: every number is read, none is typed.

Usage: python bench/results_doc.py --seed-study DIR --best-study DIR --quick-study DIR [--out docs/results.md]

Reads ``runs/bench/reproduce.json`` (bench/reproduce_bench.py), ``runs/bench/leaky-readings*.json``
(bench/leaky_readings.py), ``runs/bench/recipe-*.json`` (bench/train_bench.py RECIPE) and the
three study folders' ``summary.json``, ``config.json`` and their analysed run's
``analysis/analysis.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from twistfm.runs import RunDir
from twistfm.workflows import load_analysis

BENCH = Path("runs/bench")

#: The section on what the seeds report (their own figures, and which settings they state): prose, kept beside.
READING = Path(__file__).with_name("results_reading.md")
#: The figures of both kinds of CPU (the benches' printed output, copied), kept beside.
KINDS = Path(__file__).with_name("results_kinds.md")
#: Discovery on tune and held-out groupings (bench/discover_bench.py's printed summary, copied), kept beside.
DISCOVERY = Path(__file__).with_name("results_discovery.md")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    return f"{os.cpu_count()} cores ({cpu}), torch {torch.__version__}, Python {platform.python_version()}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def table(rows: list[dict], columns: dict[str, str]) -> str:
    head = "| " + " | ".join(columns.values()) + " |\n|" + "---|" * len(columns) + "\n"
    return head + "".join("| " + " | ".join(str(r.get(k, "-")) for k in columns) + " |\n" for r in rows)


def reproduction() -> str:
    data = json.loads((BENCH / "reproduce.json").read_text())
    runs = data["runs"]
    rows = []
    for s in data["stats"]:
        mine = [r for r in runs if r["model"] == s["model"]]
        rows.append({
            "experiment": s["model"], "seeds": pct(s["seed_figure"]), "mean": pct(s["test_acc_mean"]),
            "sd": pct(s["test_acc_sd"]), "range": f"{pct(s['test_acc_min'])} - {pct(s['test_acc_max'])}",
            "within": "yes" if s["within_range"] else "no",
            "train": f"{statistics.mean(r['training_seconds'] for r in mine):.0f}",
            "ips": f"{statistics.mean(r['train_images_per_second'] for r in mine):,.0f}"})
    command = data.get("command", f"python bench/reproduce_bench.py --seeds {data['seeds']}")
    return (f"## The seeds' experiments, reproduced\n\nEach experiment trained with {data['seeds']} seeds "
            f"(`{command}`; runs in `{data['folder']}`), on {data['machine']}.\n\n"
            + table(rows, {"experiment": "experiment", "seeds": "the seed's figure", "mean": "ours: mean test accuracy",
                           "sd": "sd", "range": "min - max", "within": "seed's figure within our range",
                           "train": "training seconds (mean)", "ips": "training images/s (mean)"}))


def leaky() -> str:
    rows = []
    for path in sorted(BENCH.glob("leaky-readings*.json")):
        for r in json.loads(path.read_text())["results"]:
            rows.append({"pool": r["pool"], "first": r.get("first_pool", "input"), "act": r["conv_act"],
                         "units": r["units"], "momentum": r["momentum"], "lr": r.get("lr", 0.01),
                         **{f"e{k}": pct(v) for k, v in r["test_acc"].items()}})
    return ("## The LeakyReLU network\n\nSeed 000 lists the layers of its own network but not: how pooling treats odd "
            "sizes (`pool`), whether its first pooling halves the input image, follows a convolution it does not list "
            "or is not there (`first_pool` input, conv, none), the activation of the "
            "first two convolutions (`conv_act`), the dense width (`units`), SGD's momentum and learning rate, or the "
            "epochs. Each reading, one seed, its test accuracy after 10, 20 and 30 epochs "
            "(`python bench/leaky_readings.py ...`). The registered `leaky` takes the reading closest to the seed at "
            "10 epochs: pool ceil, no first pool, LeakyReLU after every convolution, 64 units.\n\n"
            + table(rows, {"pool": "pool", "first": "first pool", "act": "conv act", "units": "units",
                           "momentum": "momentum", "lr": "lr", "e10": "@10", "e20": "@20", "e30": "@30"}))


def recipe_runs(studies: list[Path]) -> dict[str, list[dict]]:
    """Every full-data training of our recipes: the studies' analysed model and ``recipe-*.json``, by recipe."""
    runs: dict[str, list[dict]] = {}
    for folder in studies:
        config = json.loads((folder / "config.json").read_text())
        for r in json.loads((folder / "summary.json").read_text())["comparison"]:
            if r["model"] == config["analyzed"]:
                runs.setdefault(config["preset"], []).append(
                    dict(r, config=config["models"][r["model"]],
                         command=f"twistfm run --preset {config['preset']} --seed {r['seed']}"))
    for path in sorted(BENCH.glob("recipe-*.json")):
        for r in json.loads(path.read_text()):
            runs.setdefault(r["recipe"], []).append(
                dict(r, command=f"python bench/train_bench.py {r['recipe']} --seeds {r['seed']}"))
    return runs


def recipes(studies: list[Path]) -> str:
    """One row per recipe (quick, best, record): test accuracy over every seed trained with the same config."""
    rows, notes = [], []
    for name, runs in recipe_runs(studies).items():
        configs = {json.dumps({k: v for k, v in r["config"].items() if k != "seed"}, sort_keys=True) for r in runs}
        if len(configs) > 1:
            notes.append(f"`{name}` was trained with {len(configs)} different configs; its rows are not pooled.")
            continue
        accs = [r["test_acc"] for r in runs]
        rows.append({"recipe": name, "seeds": len(runs), "mean": pct(statistics.mean(accs)),
                     "spread": f"{pct(min(accs))} - {pct(max(accs))}" + (f" (sd {pct(statistics.stdev(accs))})"
                                                                        if len(accs) > 1 else ""),
                     "minutes": f"{statistics.mean(r['training_seconds'] for r in runs) / 60:.1f}",
                     "ips": f"{statistics.mean(r['train_images_per_second'] for r in runs):,.0f}",
                     "params": f"{runs[0]['parameters']:,}", "epochs": runs[0]["epochs"],
                     "command": "; ".join(f"`{r['command']}`" for r in runs)})
    notes += [f"`python bench/train_bench.py {name}` has not been run on this machine: no figure for it here."
              for name in ("best", "record") if name not in {r["recipe"] for r in rows}]
    return ("## Our recipes\n\nEach recipe's test accuracy on the 10,000 test images over every seed trained with "
            "its config (in a study or by `bench/train_bench.py`); training minutes exclude the per-epoch "
            "evaluation.\n\n" + "".join(f"{n}\n\n" for n in notes)
            + table(rows, {"recipe": "recipe", "seeds": "seeds", "mean": "test accuracy (mean)", "spread": "range",
                           "minutes": "training minutes", "ips": "images/s", "params": "parameters",
                           "epochs": "epochs", "command": "commands"}))


def study(folder: Path, title: str) -> str:
    summary = json.loads((folder / "summary.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    rows = [{"model": r["model"], "seed": r["seed"], "test": pct(r["test_acc"]), "train": pct(r["train_acc"]),
             "val": pct(r["val_acc"]), "secs": r["training_seconds"], "ips": f"{r['train_images_per_second']:,.0f}",
             "params": f"{r['parameters']:,}"} for r in summary["comparison"]]
    seeds = f" --seeds {config['seeds']}" if config.get("seeds", 1) > 1 else ""
    out = (f"## {title}\n\n`twistfm run --preset {config['preset']} --seed {config['seed']}{seeds}` "
           f"({folder.name}; the whole study took {summary['elapsed_seconds'] / 60:.1f} min)\n\n"
           + table(rows, {"model": "model", "seed": "seed", "test": "test accuracy", "train": "training accuracy",
                          "val": "validation accuracy", "secs": "training seconds", "ips": "images/s",
                          "params": "parameters"}))
    run = next(folder / "compare" / r["run"] for r in summary["comparison"]  # with several seeds, the one analysed
               if r["model"] == config["analyzed"] and (folder / "compare" / r["run"] / "analysis").is_dir())
    analysis = load_analysis(RunDir(run).path)
    out += "\nWhat each label means (decoded):\n\n" + "".join(f"- {line}\n" for line in analysis.decoding.lines())
    layers = [{"layer": r.layer, "width": r.width, "ari": f"{r.kmeans_ari:.3f}", "nmi": f"{r.kmeans_nmi:.3f}",
               "knn": f"{r.knn_acc:.4f}", "mark": "best" if r.layer == analysis.layers.best else ""}
              for r in analysis.layers.rows]
    out += (f"\nThe layer table of {config['analyzed']}:\n\n"
            + table(layers, {"layer": "layer", "width": "width", "ari": "K-means ARI", "nmi": "K-means NMI",
                             "knn": "5-NN accuracy", "mark": ""}))
    if analysis.discovery is not None:
        d = analysis.discovery
        groups = [{"label": lg.label, "found": len(lg.groups), "true": lg.true_count,
                   "ari": "-" if lg.ari is None else f"{lg.ari:.3f}"} for lg in d.per_label]
        out += (f"\nGroups found blind inside each label (layer {d.layer}); whole set: {d.kinds} kinds "
                f"(classes: {d.overall_true}):\n\n" + table(groups, {"label": "label", "found": "groups found",
                                                                      "true": "classes behind it", "ari": "ARI"}))
    return out


#: Bench outputs quoted verbatim, when present: file under runs/bench -> (title, command that wrote it).
LOGS = {
    "train-throughput.log": ("Training speed", "python bench/train_bench.py throughput"),
    "analysis.log": ("t-SNE and the layer table", "python bench/analysis_bench.py --run RUN"),
    "study.log": ("The quick study's wall time and memory", "python bench/study_bench.py"),
    "discover.log": ("Discovery (the earlier bench and rule: one map of every point at 0.95)",
                     "python bench/discover_bench.py --run QUICK_RUN MODEL_A_RUN"),
    "discover-threshold.log": ("Discovery's threshold", "python bench/discover_threshold.py QUICK_RUN MODEL_A_RUN"),
    "scale.log": ("Beyond one machine", "python bench/scale_bench.py"),
}


def bench_logs() -> str:
    """The benches' own printed output, each under the command that printed it (warnings left out)."""
    out = []
    for name, (title, command) in LOGS.items():
        path = BENCH / name
        if path.is_file():
            lines = [line for line in path.read_text().splitlines() if "Warning" not in line and
                     not line.startswith("  warn")]
            out.append(f"### {title}\n\n`{command}` printed:\n\n```\n" + "\n".join(lines).strip() + "\n```\n")
    return "## Benches\n\n" + "\n".join(out) if out else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-study", type=Path, required=True)
    parser.add_argument("--best-study", type=Path, required=True)
    parser.add_argument("--quick-study", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"))
    args = parser.parse_args()
    parts = [f"# Results\n\nEvery number below is read from the runs' own files by `python bench/results_doc.py`; "
             f"measured on {machine()}; written {time.strftime('%Y-%m-%d')}.\n", READING.read_text(), reproduction(), leaky(),
             study(args.seed_study, "The seed preset, end to end"),
             recipes([args.quick_study, args.best_study]), KINDS.read_text(), DISCOVERY.read_text(),
             study(args.best_study, "The best preset, end to end"), study(args.quick_study, "The quick preset, end to end"),
             bench_logs()]
    args.out.write_text("\n".join(parts))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
