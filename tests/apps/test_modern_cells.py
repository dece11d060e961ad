"""The modern cells (sLSTM, mLSTM, minLSTM, minGRU, Mogrifier) in every app.

Each app takes any key of `lstmsuite.layers.CELLS` as `model.cell`; these check
that the config accepts the new ones and that the music and handwriting models
build and train a step with them. Translation's step-by-step decoding and
captioning's attention decoder, which drive a cell one step at a time, are
checked against the whole-sequence form in their own model tests.
"""

import numpy as np
import pytest

from lstmsuite.apps.handwriting.app import HandwritingModelConfig
from lstmsuite.apps.handwriting.model import build_model as build_handwriting
from lstmsuite.apps.music.app import MusicConfig
from lstmsuite.apps.music.model import FrameNLL
from lstmsuite.apps.music.model import build_model as build_music
from lstmsuite.pipelines.config import ConfigError, load_config

MODERN_CELLS = ["slstm", "mlstm", "minlstm", "mingru", "mogrifier"]


@pytest.mark.parametrize("cell", MODERN_CELLS)
def test_config_accepts_the_cell_and_checks_its_options(cell):
    cfg = load_config(MusicConfig, None, [f"model.cell={cell}"], app="music")
    assert cfg.model.cell == cell
    with pytest.raises(ConfigError, match="not an argument"):
        load_config(
            MusicConfig,
            None,
            [f"model.cell={cell}", "model.cell_options.no_such_option=1"],
            app="music",
        )


@pytest.mark.parametrize("cell", MODERN_CELLS)
def test_music_model_trains_a_step(cell):
    cfg = load_config(
        MusicConfig,
        None,
        [f"model.cell={cell}", "model.units=8", "model.nade_units=8"],
        app="music",
    )
    model = build_music(cfg.model, seed=1)  # the default output: an RNN-NADE
    model.compile(optimizer="adam", loss=FrameNLL())
    rng = np.random.default_rng(0)
    frames = (rng.random((2, 6, 88)) < 0.1).astype("float32")
    inputs = {"frames": frames[:, :-1], "next_frames": frames[:, 1:]}
    loss = model.train_on_batch(inputs, frames[:, 1:])
    assert np.isfinite(loss)


@pytest.mark.parametrize("cell", MODERN_CELLS)
def test_handwriting_model_runs_bidirectional_with_a_frame_mask(cell):
    cfg = HandwritingModelConfig(
        cell=cell,
        units=8,
        num_layers=1,
        conv_filters=[4],
        conv_pools=[[2, 2]],
        feature_units=8,
    )
    model = build_handwriting(cfg, height=8, num_classes=5, seed=2)
    rng = np.random.default_rng(1)
    image = rng.random((2, 8, 12, 1)).astype("float32")
    width = np.array([12, 6], dtype="int32")
    log_probs = np.asarray(model({"image": image, "width": width}))
    assert log_probs.shape == (2, 6, 5) and np.all(np.isfinite(log_probs))
