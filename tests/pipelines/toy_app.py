"""A seconds-fast app for the pipeline tests: next-step prediction on random 0/1
sequences with a Keras GRU, independent of `layers/` and of any music data.

Importing this module registers it as app "toy" (subprocess tests import it first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from lstmsuite.pipelines.config import Config, DataConfig, ModelConfig
from lstmsuite.pipelines.contract import App, Datasets
from lstmsuite.pipelines.data import sequence_pipeline
from lstmsuite.pipelines.registry import APPS


@dataclass(kw_only=True)
class ToyDataConfig(DataConfig):
    source: str = "random"
    batch_size: int = 4
    pieces: int = 12
    features: int = 6


@dataclass(kw_only=True)
class ToyModelConfig(ModelConfig):
    units: int = 4
    poison_epoch: int = -1  # weights become NaN at the start of this epoch (0-based)
    sleep: float = 0.0  # seconds per training batch, to make a run slow to kill
    # The `model.cell` layer of `lstmsuite.layers` instead of Keras's GRU, and a real
    # evaluation (the study tests); off, the app stays independent of `layers/`.
    use_cell: bool = False


@dataclass(kw_only=True)
class ToyConfig(Config):
    app: str = "toy"
    data: ToyDataConfig = field(default_factory=ToyDataConfig)
    model: ToyModelConfig = field(default_factory=ToyModelConfig)


def toy_sequences(n: int, features: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        (rng.random((rng.integers(4, 12), features)) < 0.3).astype("float32")
        for _ in range(n)
    ]


class Poison(keras.callbacks.Callback):
    def __init__(self, epoch: int):
        super().__init__()
        self.at = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            weights = self.model.get_weights()
            self.model.set_weights([np.full_like(w, np.nan) for w in weights])


class Sleep(keras.callbacks.Callback):
    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_end(self, batch, logs=None):
        import time

        time.sleep(self.seconds)


@APPS.register("toy")  # an app of this process only, no entry point
class ToyApp(App):
    config_class = ToyConfig

    def load_data(self, cfg, run_dir):
        d = cfg.data
        train = toy_sequences(d.pieces, d.features, 1)
        valid = toy_sequences(max(2, d.pieces // 4), d.features, 2)
        return Datasets(
            train=sequence_pipeline(train, d, training=True, seed=cfg.seed),
            valid=sequence_pipeline(valid, d, training=False, seed=cfg.seed),
        )

    def build_model(self, cfg, data=None):
        inputs = keras.Input((None, cfg.data.features))
        if cfg.model.use_cell:
            from lstmsuite.layers import CELLS

            layer = CELLS[cfg.model.cell](
                cfg.model.units, return_sequences=True, **cfg.model.cell_options
            )
        else:
            layer = keras.layers.GRU(
                cfg.model.units, return_sequences=True, seed=cfg.seed
            )
        x = layer(inputs)
        outputs = keras.layers.Dense(cfg.data.features, activation="sigmoid")(x)
        return keras.Model(inputs, outputs)

    def compile_args(self, cfg):
        loss = keras.losses.BinaryCrossentropy(reduction="mean_with_sample_weight")
        return {"loss": loss}

    def callbacks(self, cfg, run_dir):
        extra = []
        if cfg.model.poison_epoch >= 0:
            extra.append(Poison(cfg.model.poison_epoch))
        if cfg.model.sleep:
            extra.append(Sleep(cfg.model.sleep))
        return extra

    def evaluate(self, cfg, run_dir):
        if not cfg.model.use_cell:
            return {"loss": 0.5, "count": 3}
        from lstmsuite.pipelines.contract import RunDir

        model = RunDir(run_dir).load_model()
        valid = self.load_data(cfg, run_dir).valid
        losses = [
            float(keras.ops.mean(keras.losses.binary_crossentropy(y, model(x))))
            for x, y, *_ in valid
        ]
        return {"valid_loss": float(np.mean(losses)), "batches": len(losses)}
