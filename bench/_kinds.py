"""Run a benchmark on both kinds of CPU from one machine: as it is, and as a CPU with only AVX2.

A bench calls :func:`main_for_kinds` with its own ``run(args)``. Without ``--kind`` it runs
itself once per kind in a child process (one after the other, so the figures of both kinds
come from one run on one quiet machine) and prints each child's lines prefixed by its kind.
The AVX2 kind is emulated where this CPU has AVX-512: ``ONEDNN_MAX_CPU_ISA=AVX2`` keeps
oneDNN (convolutions, matrix products, bfloat16) on its AVX2 kernels and
``ATEN_CPU_CAPABILITY=avx2`` keeps PyTorch's own vector kernels there; each child prints the
capability PyTorch then reports and whether bfloat16 is native, so the emulation is checked
rather than assumed. NumPy's OpenBLAS follows ``OPENBLAS_CORETYPE`` when it is set (this
workplace sets it to Haswell, an AVX2 core, for both kinds).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable

AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
KINDS = ("native", "avx2")


def cpu_line() -> str:
    """The CPU facts every figure is printed beside."""
    from twistfm.machine import cpu_info

    return cpu_info().line() + f"; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}"


def main_for_kinds(parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], None]) -> None:
    """Parse the bench's arguments; run it for one ``--kind`` here, or for every kind in children."""
    parser.add_argument("--kind", choices=KINDS, default=None,
                        help="run for one kind of CPU only (default: each in turn, in child processes)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="the kinds to run")
    args = parser.parse_args()
    if args.kind is not None:
        print(f"[{args.kind}] {cpu_line()}", flush=True)
        run(args)
        return
    argv = [a for a in sys.argv[1:]]
    for kind in args.kinds:
        env = {**os.environ, **(AVX2_ENV if kind == "avx2" else {})}
        print(f"== kind: {kind}" + (f" (emulated with {' '.join(f'{k}={v}' for k, v in AVX2_ENV.items())})"
                                    if kind == "avx2" else " (this machine as it is)"), flush=True)
        child = subprocess.run([sys.executable, sys.argv[0], *argv, "--kind", kind], env=env, check=False)
        if child.returncode:
            raise SystemExit(f"the {kind} run failed (exit {child.returncode})")
