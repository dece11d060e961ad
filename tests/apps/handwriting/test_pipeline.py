"""Resizing, CTC inputs/targets in padded batches, and a model whose output does not
depend on the padding of its batch."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lstmsuite.apps.handwriting.app import HandwritingDataConfig, HandwritingModelConfig
from lstmsuite.apps.handwriting.data import ImageFiles
from lstmsuite.apps.handwriting.model import CTCLoss, build_model, downsampling
from lstmsuite.apps.handwriting.pipeline import ctc_example, line_pipeline, to_height
from lstmsuite.apps.handwriting.synth import SyntheticLines
from lstmsuite.pipelines.alphabet import Alphabet
from tests.apps.handwriting.test_data import tiny_bank, write_png

DIGITS = Alphabet("0123456789")


def test_to_height_keeps_the_aspect_ratio_and_caps_the_width():
    resize = to_height(32, max_width=100)
    image, _ = resize(tf.ones([20, 45]), "x")
    assert image.shape == (32, 72, 1)  # 45 * 32 / 20
    image, _ = resize(tf.ones([10, 500]), "x")
    assert image.shape == (32, 100, 1)
    image, _ = resize(tf.ones([64, 1]), "x")
    assert image.shape == (32, 1, 1)


def test_ctc_example_counts_frames_and_widens_narrow_images():
    make = ctc_example(DIGITS, downsampling=4)
    x, y = make(tf.ones([16, 30, 1]), tf.constant("123"))
    assert int(x["width"]) == 30 and x["image"].shape == (16, 30, 1)
    assert y.numpy().tolist() == [8, 2, 3, 4]  # ceil(30 / 4) frames, then labels
    # "11" needs 3 frames (a blank between the ones); 4 columns give 1: widened.
    x, y = make(tf.ones([16, 4, 1]), tf.constant("11"))
    assert y.numpy().tolist() == [3, 2, 2]
    assert int(x["width"]) == 12 and x["image"].shape == (16, 12, 1)
    assert float(tf.reduce_sum(x["image"][:, 4:])) == 0.0  # widened with background
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside the alphabet"):
        make(tf.ones([16, 30, 1]), tf.constant("1x"))


def test_padded_batches_keep_each_lines_lengths(tmp_path):
    glyphs, labels = tiny_bank()
    split = SyntheticLines(glyphs, labels, fixed=True, seed=2)
    cfg = HandwritingDataConfig(height=16, batch_size=4, cache=False)
    texts = split.transcriptions()
    batches = list(line_pipeline(split, cfg, DIGITS, 4, training=False, seed=0))
    assert sum(len(y) for _, y in batches) == len(texts)
    seen = 0
    for x, y in batches:
        images, widths, y = x["image"].numpy(), x["width"].numpy(), y.numpy()
        assert images.shape[1] == 16 and images.shape[2] == widths.max()
        for i, width in enumerate(widths):
            text = texts[seen + i]
            assert y[i, 0] == -(-width // 4)  # frames of this image, not the batch
            assert "".join(str(v - 1) for v in y[i, 1 : 1 + len(text)]) == text
            assert (y[i, 1 + len(text) :] == 0).all()  # label padding
            assert (images[i, :, width:] == 0).all()  # image padding is background
        seen += len(widths)


def test_training_files_are_shuffled_and_bucketed(tmp_path):
    paths = []
    for i in range(6):
        write_png(tmp_path / f"{i}.png", width=20 + 30 * i, height=20)
        paths.append(str(tmp_path / f"{i}.png"))
    split = ImageFiles(paths, [str(i) for i in range(6)], [f"{i}" for i in range(6)])
    cfg = HandwritingDataConfig(height=20, batch_size=2, bucket_boundaries=[60, 120])
    batches = list(line_pipeline(split, cfg, DIGITS, 4, training=True, seed=1))
    widths = sorted(int(w) for x, _ in batches for w in x["width"])
    assert widths == [20 + 30 * i for i in range(6)]
    for x, _ in batches:  # a batch never mixes the buckets
        bucket = np.digitize(x["width"].numpy(), [60, 120])
        assert len(set(bucket)) == 1


@pytest.fixture(scope="module")
def small_model():
    cfg = HandwritingModelConfig(
        units=8, num_layers=2, conv_filters=[4, 8], conv_pools=[[2, 2], [2, 2]]
    )
    return build_model(cfg, height=16, num_classes=11, seed=3), cfg


def test_model_output_does_not_depend_on_batch_padding(small_model):
    model, cfg = small_model
    assert downsampling(cfg) == 4
    rng = np.random.default_rng(0)
    narrow, wide = rng.random((16, 23, 1)), rng.random((16, 61, 1))
    batch = np.zeros((2, 16, 61, 1), np.float32)
    batch[0, :, :23], batch[1] = narrow, wide
    together = model.predict_on_batch({"image": batch, "width": np.array([23, 61])})
    alone = model.predict_on_batch(
        {"image": narrow[None].astype("float32"), "width": np.array([23])}
    )
    assert together.shape == (2, 16, 11) and alone.shape == (1, 6, 11)
    np.testing.assert_allclose(together[0, :6], alone[0], atol=1e-5)
    np.testing.assert_allclose(np.exp(together).sum(-1), 1.0, atol=1e-5)


def test_ctc_loss_of_a_padded_batch_is_the_mean_of_each_lines_loss(small_model):
    model, _ = small_model
    rng = np.random.default_rng(1)
    log_probs = tf.nn.log_softmax(rng.normal(size=(2, 9, 11)).astype("float32"))
    targets = np.array([[9, 3, 1, 4], [5, 2, 0, 0]])  # [frames, labels..., padding]
    loss = float(CTCLoss()(targets, log_probs))
    singles = [
        tf.nn.ctc_loss(
            labels=tf.constant([labels]),
            logits=log_probs[i : i + 1, :frames],
            label_length=[len(labels)],
            logit_length=[frames],
            logits_time_major=False,
            blank_index=0,
        )
        for i, (frames, labels) in enumerate([(9, [3, 1, 4]), (5, [2])])
    ]
    assert loss == pytest.approx(float(np.mean(singles)), rel=1e-5)
    # By hand for the second line: 5 frames, one label "2" -> sum over its paths.
    p = np.exp(log_probs[1, :5].numpy())
    paths = sum(
        np.prod(p[:a, 0]) * np.prod(p[a:b, 2]) * np.prod(p[b:5, 0])
        for a in range(5)
        for b in range(a + 1, 6)
    )
    assert float(singles[1][0]) == pytest.approx(-np.log(paths), rel=1e-4)
