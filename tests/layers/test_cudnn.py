"""Which configurations of `LSTM` and `GRU` run on the cuDNN kernel (TensorFlow), and
that off a GPU JAX runs our loop.

On a GPU with TensorFlow, the configuration cuDNN computes (tanh/sigmoid, a bias,
no recurrent dropout, zoneout or cell clipping, not unrolled; GRU: `reset_after`)
must go to Keras's cuDNN kernel, with our weights. CI has no GPU, so these tests
make Keras believe there is one and replace the kernel by one that records its call
(`fake_gpu`); `test_cudnn_matches_the_generic_loop_on_a_gpu` runs the real kernel
where a GPU is present.
"""

import keras
import numpy as np
import pytest

from lstmsuite.layers import GRU, LSTM, keras_internals, recurrent
from tests.layers.helpers import randomize_weights, to_numpy

BACKEND = keras.backend.backend()
tensorflow_backend = pytest.mark.skipif(
    BACKEND != "tensorflow",
    reason="these make Keras's TensorFlow backend believe it has a GPU",
)

BATCH, TIME, FEATURES, UNITS = 2, 4, 3, 5
X = np.random.default_rng(0).normal(size=(BATCH, TIME, FEATURES)).astype("float32")


class KernelCalledError(Exception):
    """Raised by the fake cuDNN kernel (which cannot compute anything on a CPU)."""


@pytest.fixture
def fake_gpu(monkeypatch):
    if BACKEND != "tensorflow":
        pytest.skip("these make Keras's TensorFlow backend believe it has a GPU")
    """Keras sees a GPU; its cuDNN kernels record their arguments and raise
    `KernelCalledError`. Returns the list of recorded calls."""
    tf_rnn = keras_internals.tensorflow_rnn
    calls = []

    def kernel(*args):
        calls.append(args)
        raise KernelCalledError

    monkeypatch.setattr(tf_rnn, "_is_gpu_available", lambda: True)
    monkeypatch.setattr(tf_rnn, "_cudnn_lstm", kernel)
    monkeypatch.setattr(tf_rnn, "_cudnn_gru", kernel)
    return calls


def built(layer):
    layer.build(X.shape)
    randomize_weights(layer, seed=1)
    return layer


# Configurations cuDNN computes: they must reach the kernel, with our weights.
CUDNN_CONFIGS = {
    "lstm": lambda: LSTM(UNITS),
    "lstm_dropout": lambda: LSTM(UNITS, dropout=0.3),  # input dropout is outside
    "lstm_sequences_backwards": lambda: LSTM(
        UNITS, return_sequences=True, go_backwards=True
    ),
    "gru": lambda: GRU(UNITS),
    "gru_sequences": lambda: GRU(UNITS, return_sequences=True, use_cudnn=True),
}


@pytest.mark.parametrize("config", list(CUDNN_CONFIGS))
@pytest.mark.parametrize("training", [False, True])
def test_cudnn_configuration_runs_on_the_kernel(fake_gpu, config, training):
    layer = built(CUDNN_CONFIGS[config]())
    with pytest.raises(KernelCalledError):
        layer(X, training=training)
    (args,) = fake_gpu
    # (inputs, initial states..., kernel, recurrent_kernel, bias, mask, time_major,
    # go_backwards, return_sequences)
    weights = args[-7:-4]
    for got, ours in zip(weights, layer.cell.get_weights()[:3]):
        np.testing.assert_array_equal(to_numpy(got), ours)
    assert args[-2] == layer.go_backwards
    assert args[-1] == layer.return_sequences
    inputs = to_numpy(args[0])
    if not (training and layer.cell.dropout):
        np.testing.assert_array_equal(inputs, X)
    else:  # input dropout is applied before the kernel: each unit kept or dropped
        kept = 1.0 / (1.0 - layer.cell.dropout)
        assert np.all(np.isclose(inputs, 0) | np.isclose(inputs, X * kept))


# Configurations cuDNN does not compute: they must run our own loop.
GENERIC_CONFIGS = {
    "lstm_recurrent_dropout": lambda: LSTM(UNITS, recurrent_dropout=0.2),
    "lstm_zoneout": lambda: LSTM(UNITS, zoneout_cell=0.1),
    "lstm_clip": lambda: LSTM(UNITS, cell_clip=3.0),
    "lstm_no_bias": lambda: LSTM(UNITS, use_bias=False),
    "lstm_relu": lambda: LSTM(UNITS, activation="relu"),
    "lstm_unrolled": lambda: LSTM(UNITS, unroll=True),
    "lstm_off": lambda: LSTM(UNITS, use_cudnn=False),
    "gru_recurrent_dropout": lambda: GRU(UNITS, recurrent_dropout=0.2),
    "gru_zoneout": lambda: GRU(UNITS, zoneout_hidden=0.1),
    "gru_reset_before": lambda: GRU(UNITS, reset_after=False),
    "gru_off": lambda: GRU(UNITS, use_cudnn=False),
}


@pytest.mark.parametrize("config", list(GENERIC_CONFIGS))
def test_other_configurations_run_the_generic_loop(fake_gpu, config):
    layer = built(GENERIC_CONFIGS[config]())
    for training in (False, True):
        assert layer(X, training=training).shape == (BATCH, UNITS)
    assert not fake_gpu


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTM(UNITS, zoneout_hidden=0.1, use_cudnn=True),
        lambda: LSTM(UNITS, activation="relu", use_cudnn=True),
        lambda: GRU(UNITS, recurrent_dropout=0.1, use_cudnn=True),
        lambda: GRU(UNITS, reset_after=False, use_cudnn=True),
    ],
    ids=["lstm_zoneout", "lstm_relu", "gru_recurrent_dropout", "gru_reset_before"],
)
def test_use_cudnn_true_without_a_cudnn_configuration_is_an_error(fake_gpu, make):
    layer = built(make())
    with pytest.raises(ValueError, match="use_cudnn='auto'"):
        layer(X)


@tensorflow_backend
def test_use_cudnn_true_without_a_gpu_is_an_error():
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        pytest.skip("a GPU is visible: the kernel is available")
    layer = built(LSTM(UNITS, use_cudnn=True))
    with pytest.raises(ValueError, match="use_cudnn='auto'"):
        layer(X)


def gpu_available() -> bool:
    """Whether the backend sees a GPU (where cuDNN's kernels can run); on JAX the
    layers' own test (`_jax_on_gpu`), which decides whether they try cuDNN."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    return BACKEND == "jax" and recurrent._jax_on_gpu()


@pytest.mark.parametrize("layer_class", [LSTM, GRU])
def test_cudnn_matches_the_generic_loop_on_a_gpu(layer_class):
    """On a real GPU: the cuDNN kernel (`use_cudnn=True` raises if it cannot run)
    gives the generic loop's sequences and final states, and Keras's own layer's,
    on the same weights. Keras's JAX backend runs the LSTM on cuDNN
    (`jax.experimental.rnn`) but has no cuDNN GRU."""
    if not gpu_available():
        pytest.skip("needs a GPU with cuDNN")
    if BACKEND == "jax" and layer_class is GRU:
        pytest.skip("Keras's JAX backend has no cuDNN GRU")
    options = {"return_sequences": True, "return_state": True}
    fast = built(layer_class(UNITS, use_cudnn=True, **options))
    generic = built(layer_class(UNITS, use_cudnn=False, **options))
    generic.set_weights(fast.get_weights())
    keras_class = keras.layers.LSTM if layer_class is LSTM else keras.layers.GRU
    theirs = keras_class(UNITS, **options)
    theirs(X)
    theirs.set_weights(fast.get_weights())
    for other in (generic, theirs):
        for ours, expected in zip(fast(X), other(X)):
            np.testing.assert_allclose(
                to_numpy(ours), to_numpy(expected), rtol=1e-4, atol=1e-5
            )


@pytest.mark.skipif(BACKEND != "jax", reason="about Keras's JAX backend")
def test_on_jax_without_a_gpu_gru_runs_our_loop(monkeypatch):
    """Keras's JAX `gru` runs off a GPU too, as a plain scan slower than ours."""
    if recurrent._jax_on_gpu():
        pytest.skip("a GPU is visible: cuDNN may run")

    def keras_gru(*args, **kwargs):
        raise AssertionError("Keras's backend `gru` was called")

    monkeypatch.setattr(keras_internals.keras_backend, "gru", keras_gru)
    for training in (False, True):
        assert built(GRU(UNITS))(X, training=training).shape == (BATCH, UNITS)
    with pytest.raises(ValueError, match="use_cudnn='auto'"):
        built(GRU(UNITS, use_cudnn=True))(X)


@pytest.mark.parametrize(
    "platform, kind",
    [("cpu", "cpu"), ("gpu", "gpu"), ("cuda", "gpu"), ("rocm", "gpu"), ("tpu", "tpu")],
)
def test_jax_platform_names_every_gpu_build_a_gpu(monkeypatch, platform, kind):
    """JAX builds name their GPU "gpu", "cuda" or "rocm": each gets cuDNN (and the
    log-space scan, which a TPU gets too)."""
    jax = pytest.importorskip("jax")
    from lstmsuite.layers import linear_scan

    monkeypatch.setattr(jax, "default_backend", lambda: platform)
    assert recurrent.jax_platform() == kind
    assert recurrent._jax_on_gpu() == (kind == "gpu")
    assert linear_scan._on_accelerator("jax") == (kind != "cpu")
