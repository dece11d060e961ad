"""Saving, loading, XLA, mixed precision and export of models built on `layers`."""

import keras
import numpy as np
import pytest

from lstmsuite import layers
from tests.layers.helpers import (
    BACKEND,
    BATCH,
    FEATURES,
    TIME,
    randomize_weights,
    tensorflow_only,
    to_numpy,
)

ATOL = 1e-5
REGULARIZED = {"recurrent_dropout": 0.1, "zoneout_hidden": 0.1, "seed": 1}

# name: a function that makes the layer under test (non-default arguments, so that
# the round trip has something to lose).
LAYERS = {
    "lstm": lambda: layers.LSTM(3, return_sequences=True, cell_clip=2.0, **REGULARIZED),
    "peephole": lambda: layers.PeepholeLSTM(3, zoneout_cell=0.2, **REGULARIZED),
    "cifg": lambda: layers.CIFGLSTM(
        3, recurrent_dropout_mode="semeniuta", **REGULARIZED
    ),
    "lstmp": lambda: layers.LSTMP(
        4, proj_units=2, proj_clip=0.5, go_backwards=True, **REGULARIZED
    ),
    "layernorm": lambda: layers.LayerNormLSTM(3, norm_epsilon=1e-3, **REGULARIZED),
    "gru_reset_after": lambda: layers.GRU(3, return_sequences=True, **REGULARIZED),
    "gru_reset_before": lambda: layers.GRU(3, reset_after=False, **REGULARIZED),
    "slstm": lambda: layers.SLSTM(
        4, num_heads=2, forget_gate="exponential", zoneout_cell=0.1, **REGULARIZED
    ),
    "mlstm": lambda: layers.MLSTM(
        4,
        num_heads=2,
        return_sequences=True,
        recurrent_dropout=0.1,
        recurrent_dropout_mode="semeniuta",
        seed=1,
    ),
    "minlstm": lambda: layers.MinLSTM(
        3, activation="min_rnn_g", zoneout_hidden=0.1, go_backwards=True, seed=1
    ),
    "mingru": lambda: layers.MinGRU(
        3,
        return_sequences=True,
        recurrent_dropout=0.1,
        recurrent_dropout_mode="semeniuta",
        seed=1,
    ),
    "mogrifier": lambda: layers.MogrifierLSTM(
        3, rounds=3, rank=2, return_sequences=True, **REGULARIZED
    ),
    "simple_rnn": lambda: layers.SimpleRNN(
        3, return_sequences=True, activation="relu", **REGULARIZED
    ),
    "cell_in_rnn": lambda: keras.layers.RNN(layers.LSTMPCell(3, proj_units=2)),
    "deep_lstm": lambda: layers.DeepLSTM(
        [4, 4], num_layers=2, cell="layernorm", residual=True, **REGULARIZED
    ),
    "bidirectional": lambda: keras.layers.Bidirectional(
        layers.LSTM(3, return_sequences=True, **REGULARIZED)
    ),
    "bidirectional_deep": lambda: keras.layers.Bidirectional(
        layers.DeepLSTM(3, num_layers=2, cell="gru", return_sequences=True)
    ),
}
NAMES = list(LAYERS)
# XLA and mixed precision: every layer class once (the wrappers add nothing new).
COMPUTE_NAMES = [n for n in NAMES if n not in ("cell_in_rnn", "bidirectional_deep")]


def make_model(name, weight_seed=0):
    inputs = keras.Input((TIME, FEATURES))
    model = keras.Model(inputs, LAYERS[name]()(inputs))
    randomize_weights(model, seed=weight_seed)
    return model


def inputs(seed=1):
    x = np.random.default_rng(seed).normal(size=(BATCH, TIME, FEATURES))
    return x.astype("float32")


@pytest.fixture
def restore_dtype_policy():
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_without_custom_objects(name, tmp_path):
    model = make_model(name)
    x = inputs()
    expected = to_numpy(model(x))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded(x)), expected, atol=ATOL)
    original_layer, loaded_layer = model.layers[-1], loaded.layers[-1]
    assert type(loaded_layer) is type(original_layer)
    assert _without_names(loaded_layer.get_config()) == _without_names(
        original_layer.get_config()
    )


def _without_names(config):
    """A config without the (auto-numbered) names of the layers it nests."""
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, (list, tuple)):
        return [_without_names(v) for v in config]
    return config


@pytest.mark.parametrize("name", COMPUTE_NAMES)
def test_jit_compile_predicts_and_trains(name):
    model = make_model(name)
    x = inputs()
    expected = to_numpy(model(x))
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=ATOL)
    before = [to_numpy(w).copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, np.ones_like(expected))
    assert np.isfinite(loss)
    after = [to_numpy(w) for w in model.trainable_weights]
    assert any(not np.allclose(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize("name", COMPUTE_NAMES)
def test_mixed_precision(name, restore_dtype_policy):
    reference = make_model(name)
    x = inputs()
    expected = to_numpy(reference(x))
    for policy, atol in (("mixed_float16", 1e-2), ("mixed_bfloat16", 6e-2)):
        keras.config.set_dtype_policy(policy)
        model = make_model(name)
        keras.config.set_dtype_policy("float32")
        model.set_weights(reference.get_weights())
        assert all(w.dtype == "float32" for w in model.weights)
        output = model(x)
        assert keras.backend.standardize_dtype(output.dtype) == policy.split("_")[1]
        output = to_numpy(output).astype("float32")
        assert np.all(np.isfinite(output))
        np.testing.assert_allclose(output, expected, atol=atol, err_msg=policy)
    assert keras.config.dtype_policy().name == "float32"


@tensorflow_only
@pytest.mark.parametrize("name", NAMES)
def test_export_serves_the_same_outputs(name, tmp_path):
    import tensorflow as tf

    model = make_model(name)
    x = inputs()
    expected = to_numpy(model(x))
    path = str(tmp_path / name)
    model.export(path, verbose=False)
    restored = tf.saved_model.load(path)  # keep a reference: it owns the variables
    served = restored.serve(tf.constant(x))
    np.testing.assert_allclose(served.numpy(), expected, atol=ATOL)


def test_every_layer_is_registered():
    for name in layers.__all__:
        obj = getattr(layers, name)
        if isinstance(obj, type):
            registered = keras.saving.get_registered_name(obj)
            assert registered == f"lstmsuite>{name}"
            assert keras.saving.get_registered_object(registered) is obj


def test_backend_is_supported():
    assert BACKEND in ("tensorflow", "jax")
