"""Figures like the paper's Fig. 5: each row a source image followed by synthetic images of it."""

from __future__ import annotations

import os

import numpy as np
import torch


def save_preview(sources: torch.Tensor | np.ndarray, synthetic: torch.Tensor | np.ndarray,
                 path: str | os.PathLike, title: str | None = None) -> None:
    """Write a PNG grid: ``sources`` uint8 (k, C, H, W) in the first column, ``synthetic``
    uint8 (k, M, C, H, W) beside them (row r holds the M synthetic images of source r)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synthcl.utils.atomic import atomic_path

    sources = np.asarray(sources)
    synthetic = np.asarray(synthetic)
    k, m = synthetic.shape[:2]
    if sources.shape[0] != k or sources.shape[1:] != synthetic.shape[2:]:
        raise ValueError(f"sources {sources.shape} and synthetic {synthetic.shape} do not match")
    h, w = sources.shape[2:]
    cell = 1.4
    fig, axes = plt.subplots(k, m + 1, squeeze=False, figsize=(cell * (m + 1) * max(1, w / h),
                                                               cell * k + (0.5 if title else 0.2)))
    for r in range(k):
        for c in range(m + 1):
            image = sources[r] if c == 0 else synthetic[r, c - 1]
            ax = axes[r, c]
            if image.shape[0] == 1:
                ax.imshow(image[0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            else:
                ax.imshow(image.transpose(1, 2, 0), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                for spine in ax.spines.values():
                    spine.set_edgecolor("tab:red")
                    spine.set_linewidth(2)
            if r == 0:
                ax.set_title("source" if c == 0 else f"synthetic {c}", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=min(200, max(100, int(h / cell))))
    plt.close(fig)
