"""The long-range dependency lab: the classic tasks on which a plain RNN fails and
the LSTM does not, with every cell of `lstmsuite.layers`.

    lstmsuite train long_range --config long_range/adding --run-dir runs/lr/adding
    lstmsuite evaluate long_range --run-dir runs/lr/adding
    lstmsuite generate long_range --run-dir runs/lr/adding    # the figures
    lstmsuite study long_range --config long_range/adding --cells simple_rnn,lstm,gru

Tasks (`data.source`, see `data.py` and `tasks.py`): `adding`, `copy`,
`selective_copy`, `parity` (generated in `tf.data` from the seed) and `smnist`,
`pmnist` (pixel-by-pixel digits). `evaluate` reports the task's metric (`mse`,
`nats_per_step`, `accuracy`) with its trivial baseline beside it (`baseline_...`).
`generate` draws what the lab is for, into RUN/figures/: the gradient flow
through time of the trained and of the untrained model (`gradient_flow.png`,
`probes.state_gradient_norms`) and, for an LSTM, its gates and cell state on one
example (`gates.png`). `study` puts every cell's gradient flow on one figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lstmsuite.pipelines.config import (
    Config,
    DataConfig,
    ModelConfig,
    check_choice,
    require,
)
from lstmsuite.pipelines.contract import App, Datasets, RunDir, read_json, write_json

FIGURES_DIR = "figures"
GRADIENT_FILE = "gradient_flow.json"

# ------------------------------------------------------------------------------ config


@dataclass(kw_only=True)
class LongRangeDataConfig(DataConfig):
    source: str = "adding"  # adding | copy | selective_copy | parity | smnist | pmnist
    # T: the sequence length (adding), the delay (copy), the noise span (selective
    # copy) or the longest training string (parity); images have their own.
    length: int = 100
    batch_size: int = 64
    train_batches: int = 100  # generated tasks: new batches per epoch
    eval_examples: int = 1000  # generated tasks: validation and test examples
    test_buckets: list[int] = field(default_factory=lambda: [40, 64, 128, 256])
    permutation_seed: int = 0  # pmnist: the pixel order (fixed with the task)
    # smnist, pmnist: pixels minus the training images' mean, over their standard
    # deviation, so that blank pixels are not exactly 0 (a LayerNorm LSTM's
    # gradient overflows over exact zeros; apps/long_range/README.md).
    standardize: bool = False


@dataclass(kw_only=True)
class LongRangeModelConfig(ModelConfig):
    units: int = 128
    embedding_dim: int = 0  # token tasks: 0 one-hot inputs, else a learned embedding
    # Chrono initialization of the gate biases (Tallec and Ollivier 2018) for
    # time scales up to this many steps; 0: the cell's own (forget bias 1).
    chrono_init: int = 0


@dataclass(kw_only=True)
class ProbeConfig:
    """`lstmsuite generate long_range`: the figures of RUN/figures/."""

    examples: int = 16  # test examples whose gradient norms are averaged


@dataclass(kw_only=True)
class LongRangeConfig(Config):
    app: str = "long_range"
    data: LongRangeDataConfig = field(default_factory=LongRangeDataConfig)
    model: LongRangeModelConfig = field(default_factory=LongRangeModelConfig)
    generate: ProbeConfig = field(default_factory=ProbeConfig)

    def validate(self, origin: str = "defaults") -> None:
        from lstmsuite.apps.long_range.data import IMAGE_SOURCES, SOURCES

        super().validate(origin)
        d = self.data
        check_choice(origin, "data.source", d.source, SOURCES, "task")

        def need(ok: bool, key: str, what: str) -> None:
            require(self, origin, ok, key, what)

        need(d.train_batches >= 1, "data.train_batches", "at least 1")
        need(d.eval_examples >= 1, "data.eval_examples", "at least 1")
        need(self.model.embedding_dim >= 0, "model.embedding_dim", ">= 0")
        need(self.generate.examples >= 1, "generate.examples", "at least 1")
        need(self.model.chrono_init >= 0, "model.chrono_init", ">= 0")
        if self.model.chrono_init:
            from lstmsuite.apps.long_range.model import CHRONO_CELLS

            need(
                self.model.cell in CHRONO_CELLS,
                "model.cell",
                f"one of {', '.join(CHRONO_CELLS)} with model.chrono_init (a "
                "forget or update gate to set)",
            )
        edges = d.test_buckets
        need(
            len(edges) >= 2 and all(a < b for a, b in zip(edges, edges[1:])),
            "data.test_buckets",
            "increasing lengths, at least two (bucket edges)",
        )
        if d.source == "parity":
            need(
                edges[0] >= d.length,
                "data.test_buckets",
                f"a first edge of at least data.length ({d.length}, the longest "
                "training string)",
            )
        need(d.max_length is None, "data.max_length", "unset (see data.length)")
        if d.source not in IMAGE_SOURCES:
            need(d.path is None, "data.path", f"unset ({d.source} is generated)")
            need(not d.standardize, "data.standardize", "false (images only)")
            # Checks the task's own arguments (data.options) and length now.
            from lstmsuite.apps.long_range.data import generated_task

            generated_task(d)


# --------------------------------------------------------------------------------- app


class LongRangeApp(App):
    """Long-range dependencies: adding, copy, parity, sequential MNIST."""

    config_class = LongRangeConfig
    infer_command = "generate"

    def load_data(self, cfg: LongRangeConfig, run_dir) -> Datasets:
        from lstmsuite.apps.long_range import data

        d = cfg.data
        if d.source in data.IMAGE_SOURCES:
            images = data.load_images(d.path, standardize=d.standardize)
            pixels = images["train"][0].shape[1]
            order = data.run_permutation(d, run_dir, pixels, create=True)
            train = data.image_dataset(
                *images["train"], order, batch_size=d.batch_size, seed=cfg.seed
            )
            valid = data.image_dataset(*images["valid"], order, batch_size=d.batch_size)
            info = {"examples": {k: len(v[0]) for k, v in images.items()}}
            return Datasets(train, valid, info={**info, **data.task_spec(d, pixels)})
        splits = data.task_splits(d, cfg.seed)
        return Datasets(splits["train"], splits["valid"], info=data.task_spec(d))

    def build_model(self, cfg: LongRangeConfig, data: Datasets):
        from lstmsuite.apps.long_range.model import build_model

        if data is None or "classes" not in data.info:
            raise ValueError("build_model needs the Datasets from load_data")
        return build_model(cfg.model, data.info, seed=cfg.seed)

    def compile_args(self, cfg: LongRangeConfig) -> dict[str, Any]:
        import keras

        if cfg.data.source == "adding":
            return {"loss": keras.losses.MeanSquaredError()}
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return {"loss": loss, "metrics": [keras.metrics.SparseCategoricalAccuracy()]}

    def evaluate(self, cfg: LongRangeConfig, run_dir) -> dict[str, Any]:
        return evaluate(cfg, run_dir)

    def generate(self, cfg: LongRangeConfig, run_dir, output: str | None):
        return figures(cfg, run_dir, Path(output) if output else None)

    def study_report(self, configs: dict[str, Any], study_dir) -> list[str]:
        """Every cell's gradient flow on one figure (trained and untrained)."""
        from lstmsuite.apps.long_range.figures import gradient_flow_plot

        curves = {}
        for cell, cfg in configs.items():
            run_dir = Path(study_dir) / cell
            if RunDir(run_dir).best.exists() or RunDir(run_dir).last.exists():
                curves[cell] = gradient_flow(cfg, run_dir)
        out = Path(study_dir) / "gradient_flow.png"
        title = task_title(next(iter(configs.values())))
        gradient_flow_plot(curves, out, title)
        return [str(out)]


# ------------------------------------------------------------------------ evaluation


def test_sets(cfg: LongRangeConfig, run_dir) -> dict[str, Any]:
    """The test datasets: one, or parity's one per length bucket."""
    from lstmsuite.apps.long_range import data

    d = cfg.data
    if d.source in data.IMAGE_SOURCES:
        images = data.load_images(d.path, standardize=d.standardize)
        pixels = images["test"][0].shape[1]
        order = data.run_permutation(d, run_dir, pixels, create=False)
        return {"test": data.image_dataset(*images["test"], order, batch_size=256)}
    splits = data.task_splits(d, cfg.seed)
    if d.source == "parity":
        splits["train_lengths"] = splits["valid"]
    return {
        k: v for k, v in splits.items() if k.startswith("test") or k == "train_lengths"
    }


def predictions(model, dataset):
    """(targets, predictions) of `dataset`, one array per batch (parity's
    batches differ in length), the model run as one compiled function."""
    import numpy as np
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    ys, ps = [], []
    for x, y in dataset:
        ys.append(np.asarray(y))
        ps.append(np.asarray(forward(x)))
    return ys, ps


def evaluate(cfg: LongRangeConfig, run_dir) -> dict[str, Any]:
    """The task's metric on the test split with its trivial baseline beside it."""
    import numpy as np

    from lstmsuite.apps.long_range.data import generated_task

    model = RunDir(run_dir).load_model()
    source = cfg.data.source
    sets = test_sets(cfg, run_dir)
    scores: dict[str, Any] = {}
    if source == "adding":
        ys, ps = predictions(model, sets["test"])
        y, p = np.concatenate(ys)[:, 0], np.concatenate(ps)[:, 0]
        scores["mse"] = float(np.mean((p - y) ** 2))
        # Always answering 1, the sum's mean: its MSE on these very examples.
        scores["baseline_mse"] = float(np.mean((1.0 - y) ** 2))
        examples = len(y)
    elif source in ("copy", "selective_copy"):
        task = generated_task(cfg.data)
        ys, ps = predictions(model, sets["test"])
        y, logits = np.concatenate(ys), np.concatenate(ps).astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        nll = -np.take_along_axis(log_probs, y[..., None], axis=-1)[..., 0]
        k = task.symbols
        scores["nats_per_step"] = float(nll.mean())
        scores["baseline_nats_per_step"] = task.baseline()["nats_per_step"]
        recalled = logits[:, -k:].argmax(axis=-1) == y[:, -k:]
        scores["symbol_accuracy"] = float(recalled.mean())
        scores["baseline_symbol_accuracy"] = 1 / 8
        examples = len(y)
    elif source == "parity":
        correct = 0
        total = 0
        for name, dataset in sets.items():
            ys, ps = predictions(model, dataset)
            hits = sum(int((p.argmax(-1) == y).sum()) for y, p in zip(ys, ps))
            count = sum(len(y) for y in ys)
            key = "train_lengths" if name == "train_lengths" else name[len("test_") :]
            scores[f"accuracy_{key}"] = hits / count
            if name != "train_lengths":
                correct, total = correct + hits, total + count
        scores = {"accuracy": correct / total, **scores, "baseline_accuracy": 0.5}
        examples = total
    else:
        ys, ps = predictions(model, sets["test"])
        y, p = np.concatenate(ys), np.concatenate(ps)
        scores["accuracy"] = float((p.argmax(-1) == y).mean())
        # The majority class of the test set: what a model that ignores the image
        # gets at best.
        scores["baseline_accuracy"] = float(np.bincount(y).max() / len(y))
        examples = len(y)
    scores = {k: round(v, 6) for k, v in scores.items()}
    scores["test_examples"] = examples
    scores["params"] = int(model.count_params())
    return scores


def task_title(cfg: LongRangeConfig) -> str:
    d = cfg.data
    if d.source in ("smnist", "pmnist"):
        return f"{d.source} ({'mnist.npz' if d.path else '8x8 digits'})"
    if d.source == "parity":  # trained on lengths up to d.length, tested beyond
        return f"parity, trained on T<={d.length}"
    return f"{d.source}, T={d.length}"


# --------------------------------------------------------------------------- figures


def probe_batch(cfg: LongRangeConfig, run_dir):
    """`generate.examples` test examples (parity: from its longest bucket, the
    last; a parity batch has one length, so at most one batch of them)."""
    import tensorflow as tf

    sets = test_sets(cfg, run_dir)
    name = [k for k in sets if k.startswith("test")][-1]
    n = cfg.generate.examples
    xs, ys = [], []
    for x, y in sets[name]:
        xs.append(x)
        ys.append(y)
        if sum(map(len, ys)) >= n or cfg.data.source == "parity":
            break
    return tf.concat(xs, 0)[:n], tf.concat(ys, 0)[:n]


def loss_per_example(cfg: LongRangeConfig):
    import keras

    if cfg.data.source == "adding":
        return keras.losses.MeanSquaredError(reduction=None)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)


def gradient_flow(cfg: LongRangeConfig, run_dir, batch=None) -> dict[str, list[float]]:
    """`{"trained": [...], "untrained": [...]}`: ||dL/ds_t|| per step, of the
    run's model and of the same model at initialization (same seed), kept in
    RUN/figures/gradient_flow.json (recomputed when the model is newer).
    `batch`: the probe batch, where the caller already has it."""
    import keras

    from lstmsuite.apps.long_range.data import IMAGE_SOURCES, task_spec
    from lstmsuite.apps.long_range.model import build_model
    from lstmsuite.apps.long_range.probes import state_gradient_norms

    run = RunDir(run_dir)
    saved = run.root / FIGURES_DIR / GRADIENT_FILE
    model_file = run.model_path()
    if saved.exists() and saved.stat().st_mtime >= model_file.stat().st_mtime:
        record = read_json(saved)
        if record.get("examples") == cfg.generate.examples:
            return {k: record[k] for k in ("trained", "untrained")}
    x, y = batch if batch is not None else probe_batch(cfg, run_dir)
    loss = loss_per_example(cfg)
    keras.utils.set_random_seed(cfg.seed)
    pixels = int(x.shape[1]) if cfg.data.source in IMAGE_SOURCES else None
    untrained = build_model(cfg.model, task_spec(cfg.data, pixels), seed=cfg.seed)
    curves = {
        "trained": state_gradient_norms(run.load_model(), x, y, loss).tolist(),
        "untrained": state_gradient_norms(untrained, x, y, loss).tolist(),
    }
    write_json(saved, {"examples": cfg.generate.examples, **curves})
    return curves


def figures(cfg: LongRangeConfig, run_dir, output: Path | None) -> list[str]:
    """RUN/figures/gradient_flow.png and, for an LSTM, gates.png; `output`: the
    folder to write them to instead."""
    from lstmsuite.apps.long_range.figures import gates_plot, gradient_flow_plot
    from lstmsuite.apps.long_range.probes import lstm_gates

    folder = output or Path(run_dir) / FIGURES_DIR
    title = task_title(cfg)
    # The gates need the probe batch too: read the test data once for both.
    batch = probe_batch(cfg, run_dir) if cfg.model.cell == "lstm" else None
    curves = gradient_flow(cfg, run_dir, batch)
    paths = [
        gradient_flow_plot(
            {cfg.model.cell: curves}, folder / "gradient_flow.png", title
        )
    ]
    first = curves["trained"][0]
    last = curves["trained"][-1]
    ratio = first / last if last > 0 else math.inf
    print(
        f"||dL/ds_t|| of the trained {cfg.model.cell}: {first:.3g} at the first "
        f"step, {last:.3g} at the last (ratio {ratio:.3g})"
    )
    if batch is not None:
        x = batch[0]
        gates = lstm_gates(RunDir(run_dir).load_model(), x[:1])
        paths.append(gates_plot(gates, x[0], folder / "gates.png", title))
    else:
        print(f"gates.png: drawn for model.cell: lstm (this run: {cfg.model.cell})")
    return [str(p) for p in paths]
