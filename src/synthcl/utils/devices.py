"""Device choice ('auto' picks CUDA when present; asking for CUDA without one is a clear error)
and whether bf16 autocast pays on it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from synthcl.errors import SynthclError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SynthclError(
            f"--device {name}: no CUDA device is visible to PyTorch here; use --device cpu"
        )
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise SynthclError(f"--device {name}: not a device name ({exc}); use cpu or cuda") from exc


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 in hardware (AVX512-BF16 or AMX), where bf16 autocast
    runs about twice the fp32 speed; elsewhere PyTorch emulates bf16 and it is slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def bf16_autocast_enabled(device: torch.device, requested: bool) -> bool:
    """Whether bf16 autocast runs: when ``requested``, on CUDA, or on a CPU with native bf16."""
    if not requested:
        return False
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
