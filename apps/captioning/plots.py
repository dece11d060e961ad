"""Attention maps over the image, one panel per generated word (`--attention-png`).

lstmsuite predict captioning --run-dir runs/captioning/shapes x.png --attention-png
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_attention(
    image: np.ndarray, words: list[str], maps: np.ndarray, out_png: str | Path
) -> Path:
    """Writes the image, then the image under each word's attention map.

    Args:
        image: (S, S, 3) uint8 pixels.
        words: the caption; one panel each, plus "<end>".
        maps: (len(words) + 1, h, w) attention weights (each map sums to 1).
    """
    from lstmsuite.pipelines import plots

    labels = [*words, "<end>"][: len(maps)]
    panels = 1 + len(labels)
    columns = min(panels, 6)
    rows = -(-panels // columns)
    fig = plots.figure(2.2 * columns, 2.4 * rows)
    size = image.shape[0]
    ax = fig.add_subplot(rows, columns, 1)
    ax.imshow(image)
    ax.set_title(" ".join(words)[:40] or "(empty)", fontsize=7)
    ax.axis("off")
    for k, (label, weights) in enumerate(zip(labels, maps)):
        ax = fig.add_subplot(rows, columns, k + 2)
        ax.imshow(image)
        # Nearest upsampling: one block per feature-map location, so the map shows
        # the grid the model actually attended over.
        ax.imshow(
            weights / max(float(weights.max()), 1e-9),
            cmap="magma",
            alpha=0.6,
            extent=(0, size, size, 0),
            interpolation="nearest",
        )
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    return plots.save(fig, out_png)
