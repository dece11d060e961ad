"""`lstmsuite study APP --cells lstm,gru,...`: the same experiment once per cell.

Greff et al. 2017, "LSTM: A Search Space Odyssey", run on the user's own task:
one config, trained once per recurrent cell (`model.cell`) with the same seed and
budget, each run evaluated, and the results written side by side:

    STUDY_DIR/<cell>/        each cell's ordinary run directory
    STUDY_DIR/study.csv      a row per cell: status, parameters, epochs, seconds
                             per epoch, then every score `evaluate` returns
    STUDY_DIR/study.md       the same table in Markdown
    STUDY_DIR/study.png      the chosen metric per cell, as bars
    STUDY_DIR/...            what the app draws across cells (`App.study_report`;
                             the long-range lab: every cell's gradient flow)

Every cell's config is checked before the first training starts, so a typo in the
fifth cell's name fails at once. A study killed half-way resumes where it was: the
runner resumes a killed cell's run and skips a finished one (one that used its
`training.max_minutes` is evaluated, not given a second budget; delete its folder
to train it anew), and each cell's
timing is kept in its run directory (`study_timing.json`), so the table of a
resumed study still says how long each cell took. A cell whose training diverges
gets its row (status "diverged") and the study goes on.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any

from lstmsuite.pipelines.config import load_config
from lstmsuite.pipelines.contract import RunDir, read_json, write_json, write_text
from lstmsuite.pipelines.training import TrainingDivergedError
from lstmsuite.pipelines.training import _is_number as is_number

TIMING_FILE = "study_timing.json"


def parse_cells(text: str) -> list[str]:
    """`"lstm, gru,"` -> `["lstm", "gru"]` (the `--cells` argument)."""
    return [cell.strip() for cell in text.split(",") if cell.strip()]


def study(
    app: Any,
    app_name: str,
    config: str | None,
    overrides: list[str],
    cells: list[str],
    study_dir: str | Path,
    metric: str | None = None,
    cell_overrides: dict[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Trains and evaluates `config` once per cell; writes and returns the rows.

    Args:
        app: the application (`lstmsuite.pipelines.contract.App`).
        app_name: its name, as configs give it (`app:`).
        config: the experiment YAML (a path or a shipped name), or None.
        overrides: `--set` overrides applied to every cell.
        cells: names of `lstmsuite.layers.CELLS`; each sets `model.cell`.
        study_dir: where each cell's run directory and the tables go.
        metric: the score drawn in `study.png` (default: the first score).
        cell_overrides: more overrides for one cell only, after `overrides`
            (`{"lstmp": ["model.cell_options.proj_units=64"]}`): a cell's own
            arguments, which the other cells would refuse.
    """
    if not cells:
        raise ValueError("study needs at least one cell: --cells lstm,gru,...")
    if len(set(cells)) != len(cells):
        raise ValueError(f"a cell is named twice in --cells: {','.join(cells)}")
    study_dir = Path(study_dir)
    cell_overrides = cell_overrides or {}
    strangers = sorted(set(cell_overrides) - set(cells))
    if strangers:
        raise ValueError(
            f"overrides for cells not in --cells: {', '.join(strangers)} "
            f"(--cells {','.join(cells)})"
        )
    # Every cell's config first: errors before hours of training, not after.
    configs = {
        cell: load_config(
            app.config_class,
            config,
            [*overrides, f"model.cell={cell}", *cell_overrides.get(cell, [])],
            app=app_name,
        )
        for cell in cells
    }
    rows = []
    for cell, cfg in configs.items():
        run_dir = study_dir / cell
        print(f"study: {cell} -> {run_dir}", flush=True)
        start = time.perf_counter()
        state = RunDir(run_dir).read_state()
        before = state.get("epoch", 0)
        if state.get("finished") == "time_budget":
            # Not trained again: the runner would resume it for a second
            # budget, and the cells' budgets would differ.
            print(f"study: {cell} used its time budget before", flush=True)
            summary = read_json(RunDir(run_dir).metrics)
        else:
            try:
                summary = app.train(cfg, run_dir)
            except TrainingDivergedError as error:
                print(f"study: {cell} diverged: {error}", flush=True)
                rows.append({"cell": cell, "status": "diverged"})
                continue
        timing = _timing(run_dir, summary, before, time.perf_counter() - start)
        scores = app.evaluate(cfg, run_dir)
        row = {
            "cell": cell,
            "status": summary["status"],
            "params": summary["params"],
            "epochs": summary["epochs_completed"],
            **timing,
            **{k: v for k, v in scores.items() if is_number(v)},
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    write_tables(rows, study_dir, metric)
    trained = {row["cell"]: configs[row["cell"]] for row in rows if "params" in row}
    for path in app.study_report(trained, study_dir) if trained else []:
        print(f"study: {path}", flush=True)
    return rows


def _timing(
    run_dir: Path, summary: dict, before: int, seconds: float
) -> dict[str, float]:
    """Seconds per epoch of this cell's training, kept across resumed studies.

    The epochs this session trained (`before` -> now) and their seconds add to
    what earlier sessions recorded; a run found finished trains nothing and keeps
    its record. Epochs of a session killed before it recorded its time count in
    neither, so the seconds per epoch stay those of timed epochs.
    """
    path = RunDir(run_dir).root / TIMING_FILE
    record = {"seconds": 0.0, "epochs": 0}
    if path.exists():
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ValueError(f"{path} cannot be read: {error}") from error
    trained = summary["epochs_completed"] - before
    if trained > 0:
        record = {
            "seconds": record["seconds"] + summary.get("seconds_this_session", seconds),
            "epochs": record["epochs"] + trained,
        }
        write_json(path, record)
    per_epoch = record["seconds"] / record["epochs"] if record["epochs"] else math.nan
    return {"train_seconds": round(record["seconds"], 2), "s_per_epoch": per_epoch}


def write_tables(rows: list[dict], study_dir: Path, metric: str | None) -> None:
    """`study.csv`, `study.md` and `study.png` in `study_dir` (atomically)."""
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(study_dir / "study.csv", buffer.getvalue())
    lines = [
        "| " + " | ".join(columns) + " |",
        "| "
        + " | ".join("---" if c in ("cell", "status") else "---:" for c in columns)
        + " |",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_shown(row.get(c, "")) for c in columns) + " |")
    write_text(study_dir / "study.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    scores = [c for c in columns if c not in _NOT_SCORES]
    if metric is not None and metric not in scores:
        raise ValueError(
            f"--metric {metric!r} is not a score of this app; its scores: "
            f"{', '.join(scores) or 'none'}"
        )
    metric = metric or (scores[0] if scores else None)
    if metric is not None:
        plot(rows, metric, study_dir / "study.png")


_NOT_SCORES = ("cell", "status", "params", "epochs", "train_seconds", "s_per_epoch")


def _shown(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def plot(rows: list[dict], metric: str, out_png: Path) -> None:
    """`metric` per cell as bars (cells without it, e.g. diverged, left out)."""
    from lstmsuite.pipelines import plots

    shown = [row for row in rows if is_number(row.get(metric))]
    fig = plots.figure(max(4.0, 0.9 * len(shown) + 2), 3.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.bar([row["cell"] for row in shown], [row[metric] for row in shown])
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per cell")
    ax.grid(axis="y", alpha=0.3)
    plots.save(fig, out_png)
