"""Recurrent layers for Keras 3: the LSTM and its variants.

    from lstmsuite.layers import LSTM, GRU, LayerNormLSTM, DeepLSTM

Each variant is a cell (one time step, usable in `keras.layers.RNN`) and a sequence
layer with the full `keras.layers.LSTM` interface. All are registered for
serialization under the package name "lstmsuite", so models that use them load with
`keras.models.load_model` and no `custom_objects`.
"""

from lstmsuite.layers.cifg_lstm import CIFGLSTM, CIFGLSTMCell
from lstmsuite.layers.deep_lstm import CELLS, DeepLSTM, get_layer_class, recurrent_stack
from lstmsuite.layers.gru import GRU, GRUCell
from lstmsuite.layers.layer_norm_lstm import LayerNormLSTM, LayerNormLSTMCell
from lstmsuite.layers.lstm import LSTM, LSTMCell
from lstmsuite.layers.lstmp import LSTMP, LSTMPCell
from lstmsuite.layers.min_gru import MinGRU, MinGRUCell
from lstmsuite.layers.min_lstm import MinLSTM, MinLSTMCell
from lstmsuite.layers.mlstm import MLSTM, MLSTMCell
from lstmsuite.layers.mogrifier_lstm import MogrifierLSTM, MogrifierLSTMCell
from lstmsuite.layers.peephole_lstm import PeepholeLSTM, PeepholeLSTMCell
from lstmsuite.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from lstmsuite.layers.slstm import SLSTM, SLSTMCell

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
    "MLSTM",
    "MLSTMCell",
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
    "MogrifierLSTM",
    "MogrifierLSTMCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "SLSTM",
    "SLSTMCell",
    "SimpleRNN",
    "SimpleRNNCell",
    "get_layer_class",
    "recurrent_stack",
]
