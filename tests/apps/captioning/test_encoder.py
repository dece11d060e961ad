"""Encoders: a keras.applications CNN (random init or a local weights file), the
small CNN, their input normalization, and saving/loading them in safe mode."""

import keras
import numpy as np
import pytest

from lstmsuite.apps.captioning.config import EncoderConfig
from lstmsuite.apps.captioning.encoder import build_encoder, normalizer


def test_keras_application_encoder_weights_file_and_safe_load(tmp_path):
    cfg = EncoderConfig(name="MobileNetV3Small", trainable=False)
    encoder = build_encoder(cfg, 32)
    assert encoder.name == "encoder" and encoder.output_shape == (None, 1, 1, 576)
    assert not encoder.trainable
    pixels = np.full((1, 32, 32, 3), 200.0, "float32")
    # MobileNetV3 normalizes inside the network: the pipeline passes 0..255 through
    np.testing.assert_allclose(normalizer("MobileNetV3Small")(pixels), pixels)

    weights = tmp_path / "mobilenet.weights.h5"
    encoder.save_weights(weights)
    loaded = build_encoder(
        EncoderConfig(name="MobileNetV3Small", weights=str(weights)), 32
    )
    for a, b in zip(encoder.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    encoder.save(tmp_path / "encoder.keras")
    again = keras.models.load_model(
        tmp_path / "encoder.keras", safe_mode=True, compile=False
    )
    np.testing.assert_allclose(again(pixels), encoder(pixels), atol=1e-5)


def test_small_cnn_and_errors(tmp_path):
    encoder = build_encoder(EncoderConfig(filters=[4, 8, 8]), 64)
    assert encoder.output_shape == (None, 8, 8, 8)
    np.testing.assert_allclose(normalizer("small_cnn")(np.array([0.0, 255.0])), [-1, 1])
    with pytest.raises(ValueError, match="Did you mean 'MobileNetV3Small'"):
        build_encoder(EncoderConfig(name="MobileNetV3small"), 64)
    with pytest.raises(FileNotFoundError, match="encoder.weights file not found"):
        build_encoder(EncoderConfig(weights=str(tmp_path / "none.h5")), 64)
    with pytest.raises(ValueError, match="no imagenet weights"):
        build_encoder(EncoderConfig(weights="imagenet"), 64)
