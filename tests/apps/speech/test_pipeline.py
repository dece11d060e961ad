"""The speech pipeline and model: targets count the model's frames, and padding
never changes a result (an utterance alone or in a batch gives the same output)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lstmsuite.apps.speech.app import SpeechDataConfig, SpeechModelConfig
from lstmsuite.apps.speech.features import PerturbConfig
from lstmsuite.apps.speech.model import FrameStack, build_model
from lstmsuite.apps.speech.pipeline import (
    batches,
    class_targets,
    ctc_targets,
    features,
    file_batches,
    waveforms,
)
from lstmsuite.pipelines.alphabet import Alphabet
from tests.apps.speech.test_strings import recordings


def test_frame_stack_puts_consecutive_frames_side_by_side():
    x = np.arange(2 * 5 * 3, dtype="float32").reshape(2, 5, 3)
    y = np.asarray(FrameStack(2)(x))
    assert y.shape == (2, 3, 6)
    np.testing.assert_array_equal(y[:, 0], np.concatenate([x[:, 0], x[:, 1]], -1))
    np.testing.assert_array_equal(y[:, 2, 3:], 0)  # the odd frame's partner: zeros
    np.testing.assert_array_equal(FrameStack(1)(x), x)
    with pytest.raises(ValueError, match="k must be at least 1"):
        FrameStack(0)


def test_targets_count_the_models_frames():
    feats = tf.zeros([10, 4])
    x, y = ctc_targets(Alphabet(" 0123456789"), frame_stack=3)(feats, "4 0")
    assert int(x["length"]) == 10
    assert y.numpy().tolist() == [4, 6, 1, 2]  # ceil(10 / 3) frames, "4", " ", "0"
    x, label = class_targets(["no", "yes"])(feats, tf.constant("yes"))
    assert int(label) == 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a class"):
        class_targets(["no", "yes"])(feats, tf.constant("maybe"))


def test_vtlp_warps_training_features_and_leaves_the_other_draws_alone():
    utts = recordings()

    def train_features(**perturb):
        cfg = SpeechDataConfig(perturb=PerturbConfig(speed=[0.8, 1.25], **perturb))
        ds = features(waveforms(utts), cfg, training=True, seed=5)
        return [f.numpy() for f, _ in ds.take(3)]

    plain, unwarped = train_features(), train_features(vtlp=[1.0, 1.0])
    warped, again = train_features(vtlp=[0.9, 1.1]), train_features(vtlp=[0.9, 1.1])
    for a, b, c, d in zip(plain, unwarped, warped, again):
        # A warp of 1 is no warp: the speed and order drawn are those without VTLP.
        np.testing.assert_allclose(b, a, atol=1e-4)
        assert c.shape == a.shape and not np.allclose(c, a, atol=1e-2)
        np.testing.assert_array_equal(c, d)  # seeded


def test_batches_pad_and_keep_each_length():
    cfg = SpeechDataConfig(batch_size=4, bucket_boundaries=[30])
    utts = recordings()
    ds = features(waveforms(utts), cfg, training=False, seed=0)
    ds = batches(ds.map(lambda f, t: ({"features": f, "length": tf.shape(f)[0]}, t)),
                 cfg, training=False)  # fmt: skip
    seen = 0
    for x, texts in ds:
        lengths = x["length"].numpy()
        assert x["features"].shape[1] == lengths.max()
        got = [t.decode() for t in texts.numpy()]
        assert got == utts.texts[seen : seen + len(got)]  # in order
        for i, length in enumerate(lengths):
            samples = len(utts.audio[seen + i])
            assert length == -(-samples // 80)  # one frame per 10 ms hop
        seen += len(lengths)
    assert seen == len(utts)


def test_deltas_are_computed_per_clip_before_padding():
    """A clip's deltas in a padded batch (evaluate, predict) are its own: the
    padding of the batch never enters the regression at its end."""
    from lstmsuite.apps.speech.features import FeatureConfig

    cfg = SpeechDataConfig()
    cfg.features = FeatureConfig(mel_bins=20, cepstra=6, deltas=2)
    clips = recordings().audio[:3]
    alone = [next(iter(file_batches([clip], cfg, 4))) for clip in clips]
    batch = next(iter(file_batches(clips, cfg, 4)))
    assert batch["features"].shape[-1] == 18
    for i, x in enumerate(alone):
        n = int(x["length"][0])
        assert int(batch["length"][i]) == n
        np.testing.assert_array_equal(batch["features"][i, :n], x["features"][0])
        np.testing.assert_array_equal(batch["features"][i, n:], 0)
    ds = features(waveforms(recordings()), cfg, training=False, seed=0)
    first, _ = next(iter(ds))
    np.testing.assert_allclose(first, alone[0]["features"][0], atol=1e-6)


@pytest.mark.parametrize("task", ["classify", "ctc"])
@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("conv_filters", [[], [3, 4]])
def test_output_does_not_depend_on_batch_padding(task, bidirectional, conv_filters):
    cfg = SpeechModelConfig(
        units=8, num_layers=2, feature_units=8, frame_stack=2,
        bidirectional=bidirectional, conv_filters=conv_filters,
    )  # fmt: skip
    model = build_model(cfg, task, feature_dim=5, num_classes=4, seed=3)
    if conv_filters:  # batch norm as trained, so that zero in is not zero out
        for layer in model.layers:
            if "BatchNormalization" in type(layer).__name__:
                layer.moving_mean.assign(np.full(layer.moving_mean.shape, -0.5))
    rng = np.random.default_rng(0)
    short, long = rng.normal(size=(7, 5)), rng.normal(size=(12, 5))
    padded = np.zeros((2, 12, 5), "float32")
    padded[0, :7], padded[1] = short, long
    if conv_filters:  # the front end zeroes whatever the padding holds
        padded[0, 7:] = rng.normal(size=(5, 5))
    both = model.predict_on_batch({"features": padded, "length": np.array([7, 12])})
    alone = model.predict_on_batch(
        {"features": short[None].astype("float32"), "length": np.array([7])}
    )
    if task == "classify":
        np.testing.assert_allclose(both[0], alone[0], atol=1e-5)
    else:
        np.testing.assert_allclose(both[0, :4], alone[0, :4], atol=1e-5)  # 4 frames
