"""The parts of Keras's private `keras.src` package this project uses, in one place.

Everything else comes from Keras's public API (`keras.ops`, `keras.tree`,
`keras.layers`, ...). Each import here says why there is no public alternative
(Keras 3.15), so that an upgrade knows what to check. Import these names from this
module, never from `keras.src` directly; tests that monkeypatch one of them patch
the module object imported here, which is Keras's own.
"""

import importlib

# Keras's backend package (the active backend's functions), for three with no
# public equivalent: `rnn` (the time loop `keras.layers.RNN.inner_loop` runs, with
# masking, `go_backwards`, `unroll` and JAX's `scan`; `keras.ops` has no loop over
# time) and `lstm` / `gru` (the cuDNN kernels behind `keras.layers.LSTM` and
# `GRU`). Use them as attributes of this module (`keras_backend.lstm`), looked up
# at call time, so that a test that patches them is seen.
from keras.src import backend as keras_backend

# `keras.layers.RNN` draws and resets a cell's dropout masks around each call only
# for cells that are instances of this mixin (`RNN._maybe_config_dropout_masks`);
# Keras exports no such base class, so our cells must inherit the private one to
# behave like `keras.layers.LSTMCell` inside a plain `keras.layers.RNN`.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

# TensorFlow-only modules, imported on first use (`__getattr__` below), so that
# other backends never import TensorFlow for them:
_LAZY_MODULES = {
    # How `fit` reduces per-replica values under a `tf.distribute` strategy
    # (`reduce_per_replica`), which `lstmsuite.pipelines.training` patches to work
    # around keras-team/keras#20585; the trainer is not part of Keras's public API.
    "tensorflow_trainer": "keras.src.backend.tensorflow.trainer",
    # Where the TensorFlow backend decides to use cuDNN (`_is_gpu_available`) and
    # calls its kernels (`_cudnn_lstm`, `_cudnn_gru`): private functions, which
    # `tests/layers/test_cudnn.py` replaces to test the cuDNN path without a GPU.
    "tensorflow_rnn": "keras.src.backend.tensorflow.rnn",
}

__all__ = ["DropoutRNNCell", "keras_backend", *_LAZY_MODULES]


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
