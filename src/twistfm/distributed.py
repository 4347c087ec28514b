"""Data-parallel training across processes: who this process is, and the few collectives training needs.

A run launched by ``torchrun`` (one machine or several) joins its process group here: gloo
on the CPU, NCCL on CUDA. Every process trains on its own shard of each global batch;
:class:`Team` tells the training loop its rank and size and wraps the collectives, so that a
process that stops makes the others stop with one clear line instead of a gloo traceback.
A single process is a team of one, and every call here is then free.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from .errors import TwistfmError
from .interrupts import received

__all__ = ["Team", "join_team", "team_of", "launch", "PeerStopped"]

#: Words that PyTorch's collectives use when a peer process has gone away.
_LOST = ("connection", "closed", "reset", "broken pipe", "timed out", "timeout", "peer", "gloo", "nccl")


class PeerStopped(TwistfmError):
    """Another training process stopped; this one stops too. The message says how to resume."""

    exit_code = 1


@dataclass(frozen=True)
class Team:
    """The processes training one model together.

    Attributes
    ----------
    rank : int
        This process's number, 0 for the one that writes the run folder.
    size : int
        How many processes train together.
    local_rank : int
        This process's number on its machine (which GPU it uses).
    backend : str
        ``"gloo"``, ``"nccl"``, or ``"none"`` for a single process.
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str = "none"

    @property
    def main(self) -> bool:
        """Whether this process writes the run folder, checkpoints and history."""
        return self.rank == 0

    def broadcast(self, obj: Any) -> Any:
        """``obj`` as process 0 has it (sent to every process)."""
        if self.size == 1:
            return obj
        box = [obj]
        with self.collective():
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_sum(self, values: list[float]) -> list[float]:
        """The element-wise sum of ``values`` over every process."""
        if self.size == 1:
            return values
        tensor = torch.tensor(values, dtype=torch.float64)
        with self.collective():
            dist.all_reduce(tensor)
        return tensor.tolist()

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.size > 1:
            with self.collective():
                dist.barrier()

    @contextlib.contextmanager
    def collective(self) -> Iterator[None]:
        """Turn a failed collective (a peer process died) into :class:`PeerStopped`."""
        try:
            yield
        except (RuntimeError, dist.DistBackendError) as exc:
            if self.size > 1 and any(word in str(exc).lower() for word in _LOST):
                raise PeerStopped(f"another training process stopped (process {self.rank} of {self.size} saw: "
                                  f"{str(exc).splitlines()[0][:120]})") from None
            raise


def join_team(device_type: str = "cpu") -> Team:
    """Join the process group when launched by ``torchrun``; a team of one otherwise.

    The launcher's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``) is
    read by PyTorch itself; this only decides the backend: NCCL on CUDA, gloo otherwise.
    """
    if not dist.is_available() or not dist.is_torchelastic_launched():
        return Team()
    backend = "nccl" if device_type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    return Team(rank=dist.get_rank(), size=dist.get_world_size(), local_rank=local_rank, backend=backend)


@contextlib.contextmanager
def team_of(device_type: str = "cpu") -> Iterator[Team]:
    """:func:`join_team` for the length of a block, leaving the process group at its end."""
    team = join_team(device_type)
    try:
        yield team
        team.barrier()  # every process leaves together, after process 0 has written everything
    finally:
        if team.size > 1 and dist.is_initialized():
            gc.collect()  # free the data-parallel wrappers (and their threads) before their process group
            dist.destroy_process_group()


_TORCHRUN_LOG = re.compile(r"^[WEIF]\d{4} \d\d:\d\d:\d\d")  # torchrun's own log lines (glog style)
_RUN_LINE = re.compile(r"^run: (\S+) \(\d+ processes")


def launch(args: list[str], nproc: int, entry: list[str] | None = None) -> int:
    """Run ``twistfm ARGS`` as ``nproc`` processes on this machine through ``torchrun``.

    The processes' lines are passed through; ``torchrun``'s own log lines and tracebacks
    are not. When a process fails, one line says what happened and how to resume. Returns
    the exit code (0, 1 when a process died, or the first process's own code).
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               *(entry or ["-m", "twistfm"]), *args]
    run_folder, errors, in_traceback = None, [], False
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            text = line.rstrip("\n")
            match = _RUN_LINE.match(text)
            if match:
                run_folder = match.group(1)
            if text.startswith(("error:", "stopped:")):
                errors.append(text)
                continue
            in_traceback = in_traceback or text.startswith(("Traceback", "====="))
            if not in_traceback and not _TORCHRUN_LOG.match(text) and not text.startswith(("*****", "Setting OMP_NUM_THREADS")):
                print(text, file=sys.stderr if not text.startswith(("test accuracy", "run: ")) or match else sys.stdout,
                      flush=True)
        code = proc.wait()
    if code == 0:
        return 0
    resume = (f"; resume with 'twistfm train --resume {run_folder} --nproc {nproc}'" if run_folder else "")
    # Unless this launcher was stopped itself, a process's "stopped:" line means torchrun stopped
    # it because another process died: the death is what to report.
    first = next((e for e in errors if not e.startswith("error: another training process")
                  and (received() is not None or not e.startswith("stopped:"))), None)
    if first is not None:
        print(first, file=sys.stderr)
        return 130 if first.startswith("stopped:") else 2
    print(f"error: a training process stopped (torchrun exit code {code}), so the others stopped too{resume}",
          file=sys.stderr)
    return 1
