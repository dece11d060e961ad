"""The lab's figures: gradient flow through time, and an LSTM's gates.

Both go through `lstmsuite.pipelines.plots` (Agg canvas, atomic writes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lstmsuite.pipelines import plots


def gradient_flow_plot(curves: dict[str, dict], out: Path, title: str) -> Path:
    """`||dL/ds_t||` against t on a log scale, one colour per cell: the trained
    model solid, the untrained one dashed. `curves`: cell -> {"trained": [...],
    "untrained": [...]}."""
    many = len(curves) > 10  # more cells than the default cycle has colours
    fig = plots.figure(10.0 if many else 7.5, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    if many:
        from matplotlib import colormaps

        colors = [colormaps["tab20"](k % 20) for k in range(len(curves))]
    else:
        colors = [f"C{k}" for k in range(len(curves))]
    for color, (cell, pair) in zip(colors, curves.items()):
        for kind, style in (("trained", "-"), ("untrained", "--")):
            values = np.asarray(pair.get(kind) or [], dtype=float)
            if not len(values):
                continue
            # Exact zeros (no path to the loss) cannot be drawn on a log scale.
            values = np.where(values > 0, values, np.nan)
            steps = np.arange(1, len(values) + 1)
            label = f"{cell} ({kind})"
            ax.plot(steps, values, style, color=color, label=label, linewidth=1.2)
    ax.set_yscale("log")
    # The probe's own length, which is not always the training length (parity is
    # probed on its longest test bucket).
    probed = max(
        (len(pair.get("trained") or []) for pair in curves.values()), default=0
    )
    ax.set_xlabel(f"time step t of the probe sequences (T={probed})")
    ax.set_ylabel(r"$\|\partial L / \partial s_t\|$")
    ax.set_title(f"Gradient flow through time: {title}")
    ax.grid(alpha=0.3, which="both")
    if many:  # beside the plot, where it hides no curve
        ax.legend(fontsize=7, ncol=2, loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        ax.legend(fontsize=7, ncol=2)
    return plots.save(fig, out)


def gates_plot(gates: dict[str, np.ndarray], example, out: Path, title: str) -> Path:
    """Heat maps (unit x time) of the input, forget and output gates and of the
    cell state for one example, under a strip of its inputs."""
    example = np.asarray(example)
    steps = len(gates["cell"])
    fig = plots.figure(min(16.0, 4 + steps / 40), 9.0)
    grid = fig.add_gridspec(5, 1, height_ratios=[0.5, 2, 2, 2, 2])
    ax = fig.add_subplot(grid[0])
    strip = example[None, :] if example.ndim == 1 else example.T  # (features, T)
    image = ax.imshow(strip.astype(float), aspect="auto", cmap="viridis",
                      interpolation="nearest")  # fmt: skip
    # Every panel has a colour bar, so that all five share one time axis.
    fig.colorbar(image, ax=ax, pad=0.01)
    ax.set_yticks([])
    ax.set_ylabel("input")
    ax.set_title(f"{title}: one example's inputs, LSTM gates and cell state")
    panels = (("input", "input gate i", "magma", 0, 1),
              ("forget", "forget gate f", "magma", 0, 1),
              ("output", "output gate o", "magma", 0, 1))  # fmt: skip
    for row, (key, label, cmap, lo, hi) in enumerate(panels, start=1):
        ax = fig.add_subplot(grid[row])
        image = ax.imshow(gates[key].T, aspect="auto", cmap=cmap, vmin=lo, vmax=hi,
                          interpolation="nearest")  # fmt: skip
        ax.set_ylabel(f"{label}\nunit")
        fig.colorbar(image, ax=ax, pad=0.01)
    ax = fig.add_subplot(grid[4])
    bound = float(np.abs(gates["cell"]).max()) or 1.0
    image = ax.imshow(gates["cell"].T, aspect="auto", cmap="RdBu_r", vmin=-bound,
                      vmax=bound, interpolation="nearest")  # fmt: skip
    ax.set_ylabel("cell state c\nunit")
    ax.set_xlabel("time step")
    fig.colorbar(image, ax=ax, pad=0.01)
    return plots.save(fig, out)
