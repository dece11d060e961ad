"""Recurrent layers for Keras 3: the LSTM and its variants.

    from layers import LSTM, PeepholeLSTM, CIFGLSTM, LSTMP, LayerNormLSTM, GRU, DeepLSTM

Each variant is a cell (one time step, usable in `keras.layers.RNN`) and a sequence
layer with the full `keras.layers.LSTM` interface. All are registered for
serialization under the package name "lstmsuite", so models that use them load with
`keras.models.load_model` and no `custom_objects`.
"""

from layers.cifg_lstm import CIFGLSTM, CIFGLSTMCell
from layers.deep_lstm import CELLS, DeepLSTM, get_layer_class, recurrent_stack
from layers.gru import GRU, GRUCell
from layers.layer_norm_lstm import LayerNormLSTM, LayerNormLSTMCell
from layers.lstm import LSTM, LSTMCell
from layers.lstmp import LSTMP, LSTMPCell
from layers.peephole_lstm import PeepholeLSTM, PeepholeLSTMCell

__all__ = [
    "CELLS",
    "CIFGLSTM",
    "CIFGLSTMCell",
    "DeepLSTM",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "LSTMP",
    "LSTMPCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "get_layer_class",
    "recurrent_stack",
]
