"""Device choice: 'auto' picks CUDA when present; asking for CUDA without one is a clear error."""

from __future__ import annotations

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
