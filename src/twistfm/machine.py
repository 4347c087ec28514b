"""What this computer computes fast: native bfloat16 or not, its CPU capability, the cores really available.

Training asks here which precision to use when a config says ``precision="auto"``, and how
many threads PyTorch should take; the benchmarks print :func:`cpu_info` beside every figure.
Every answer comes from PyTorch (its cpuinfo and oneDNN queries) or the operating system,
never from a CPU's model name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["CpuInfo", "cpu_info", "native_bf16", "choose_precision", "available_cores", "PRECISIONS"]

#: The precisions a training config can ask for ("auto": bf16 where the hardware computes it natively, else fp32).
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class CpuInfo:
    """The facts a speed figure depends on.

    Attributes
    ----------
    model : str
        The CPU's name as the operating system reports it.
    capability : str
        ``torch.backends.cpu.get_cpu_capability()``: the vector kernels PyTorch runs (AVX2, AVX512, ...).
    native_bf16 : bool
        Whether bfloat16 matrix products run on bfloat16 instructions (AVX-512 BF16 or AMX) in oneDNN.
    cores : int
        The cores this process may use (affinity and cgroup quota).
    threads : int
        PyTorch's intra-op threads now.
    """

    model: str
    capability: str
    native_bf16: bool
    cores: int
    threads: int

    def line(self) -> str:
        """One line for a benchmark's output."""
        return (f"CPU: {self.model}; torch capability {self.capability}; native bf16 "
                f"{'yes' if self.native_bf16 else 'no'}; {self.cores} cores; {self.threads} torch threads; "
                f"torch {torch.__version__}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_info() -> CpuInfo:
    """The CPU facts of this process (see :class:`CpuInfo`)."""
    return CpuInfo(model=_cpu_model(), capability=torch.backends.cpu.get_cpu_capability(),
                   native_bf16=native_bf16(torch.device("cpu"))[0], cores=available_cores(),
                   threads=torch.get_num_threads())


def _cpu_bf16() -> tuple[bool, str]:
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():  # honours ONEDNN_MAX_CPU_ISA
        return False, "oneDNN has no bfloat16 kernels here (none for this CPU, or ONEDNN_MAX_CPU_ISA caps them)"
    cpu = torch.cpu
    if getattr(cpu, "_is_avx2_supported", lambda: False)():
        # On x86 oneDNN also says yes on plain AVX-512, where it emulates bfloat16: ask for the instructions.
        if getattr(cpu, "_is_amx_tile_supported", lambda: False)():
            return True, "this CPU has AMX"
        if getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
            return True, "this CPU has AVX-512 BF16"
        return False, "this CPU has no AVX-512 BF16 or AMX instructions"
    return True, "oneDNN computes bfloat16 natively on this CPU"


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether ``device`` computes bfloat16 natively, and why (one clause)."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        if major >= 8:
            return True, f"this GPU has compute capability {major}.{minor} (8.0 or newer)"
        return False, f"this GPU has compute capability {major}.{minor} (bfloat16 needs 8.0 or newer)"
    if device.type == "cpu":
        return _cpu_bf16()
    return False, f"bfloat16 is not known to be native on {device.type}"


def choose_precision(asked: str, device: torch.device) -> tuple[str, str]:
    """The precision to train in for ``asked`` on ``device``, and one sentence saying why.

    "auto" takes bf16 only where the hardware computes it natively, else fp32; an explicit
    choice is kept (the reason then says whether it is native).
    """
    native, why = native_bf16(device)
    if asked == "auto":
        if native:
            return "bf16", f"bf16 (chosen automatically: {why})"
        return "fp32", f"fp32 (chosen automatically: {why}, so bfloat16 would be emulated and several times slower)"
    if asked == "bf16":
        return "bf16", f"bf16 (asked for; {'native: ' + why if native else 'emulated: ' + why})"
    return "fp32", "fp32 (asked for)"


def _cgroup_cores() -> float | None:
    """The CPU quota of this process's cgroup (v2 ``cpu.max`` or v1 ``cfs_quota``), in cores; None when unlimited."""
    candidates = [(Path("/sys/fs/cgroup/cpu.max"), None),
                  (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))]
    for quota_file, period_file in candidates:
        try:
            if period_file is None:
                quota, period = quota_file.read_text().split()[:2]
            else:
                quota, period = quota_file.read_text().strip(), period_file.read_text().strip()
        except (OSError, ValueError):
            continue
        if quota in ("max", "-1"):
            return None
        try:
            return max(1.0, int(quota) / int(period))
        except (ValueError, ZeroDivisionError):
            continue
    return None


def available_cores() -> int:
    """The cores this process may really use: its CPU affinity, capped by a cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cores()
    if quota is not None:
        cores = min(cores, int(quota))
    return max(1, cores)
