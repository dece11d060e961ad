"""Figures for run directories: matplotlib without a display, written atomically.

    fig = figure(6, 4)
    ax = fig.add_subplot(1, 1, 1); ax.plot(...)
    save(fig, run_dir / "curves.png")

`figure` uses matplotlib's object API on the Agg canvas, never pyplot: no global
state, no GUI backend on a server, and figures are freed as soon as they are
dropped. `save` lays the figure out and writes it through `atomic_file`, so a kill
never leaves half a PNG.
"""

from __future__ import annotations

from pathlib import Path


def figure(width: float, height: float, dpi: int = 100):
    """A new matplotlib Figure with an Agg canvas."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path, tight: bool = True) -> Path:
    """Writes `fig` to `path` atomically; returns the path."""
    from lstmsuite.pipelines.contract import atomic_file

    if tight:
        fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp)
    return Path(path)


def confusion_matrix(counts, labels, path, title: str = "") -> Path:
    """A (true, predicted) count matrix as a heat map with the counts written in
    each cell; rows are the true labels."""
    import numpy as np

    counts = np.asarray(counts)
    size = max(4.0, 0.45 * len(labels) + 2)
    fig = figure(size + 1, size)
    ax = fig.add_subplot(1, 1, 1)
    rows = counts.sum(axis=1, keepdims=True)
    shares = counts / np.maximum(rows, 1)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(labels))
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in ticks:
        for j in ticks:
            if counts[i, j]:
                color = "white" if shares[i, j] > 0.5 else "black"
                ax.text(j, i, str(int(counts[i, j])), ha="center", va="center",
                        color=color, fontsize=7)  # fmt: skip
    fig.colorbar(image, ax=ax, label="share of the true label's row")
    if title:
        ax.set_title(title)
    return save(fig, path)
