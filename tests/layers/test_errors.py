"""Bad arguments and inputs raise a ValueError naming the argument and the value."""

import re

import numpy as np
import pytest

from lstmsuite import layers
from lstmsuite.layers import (
    CIFGLSTM,
    GRU,
    LSTM,
    LSTMP,
    DeepLSTM,
    GRUCell,
    LayerNormLSTM,
    LSTMPCell,
    PeepholeLSTM,
)

# name: a function of (units, **kwargs) that makes the layer.
CONSTRUCTORS = {
    "LSTM": LSTM,
    "PeepholeLSTM": PeepholeLSTM,
    "CIFGLSTM": CIFGLSTM,
    "LSTMP": lambda units, **kw: LSTMP(units, proj_units=2, **kw),
    "LayerNormLSTM": LayerNormLSTM,
    "GRU": GRU,
    "LSTMCell": layers.LSTMCell,
    "PeepholeLSTMCell": layers.PeepholeLSTMCell,
    "CIFGLSTMCell": layers.CIFGLSTMCell,
    "LSTMPCell": lambda units, **kw: LSTMPCell(units, proj_units=2, **kw),
    "LayerNormLSTMCell": layers.LayerNormLSTMCell,
    "GRUCell": GRUCell,
    "DeepLSTM": DeepLSTM,
}
SEQUENCE_LAYERS = ["LSTM", "PeepholeLSTM", "CIFGLSTM", "LSTMP", "LayerNormLSTM"]
SEQUENCE_LAYERS += ["GRU", "DeepLSTM"]


def named(argument, value):
    """A regex matching a message that names `argument` and its received value."""
    return rf"`{argument}`[\s\S]*{re.escape(f'{argument}={value!r}')}"


@pytest.mark.parametrize("units", [0, -3, 2.5, "4", None, True])
@pytest.mark.parametrize("name", list(CONSTRUCTORS))
def test_units_must_be_a_positive_integer(name, units):
    with pytest.raises(ValueError, match=named("units", units)):
        CONSTRUCTORS[name](units)


@pytest.mark.parametrize(
    "argument, value",
    [
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("recurrent_dropout", 1.5),
        ("recurrent_dropout", "high"),
        ("zoneout_hidden", 1.0),
        ("zoneout_hidden", -0.5),
    ],
)
@pytest.mark.parametrize("name", list(CONSTRUCTORS))
def test_rates_must_be_in_the_unit_interval(name, argument, value):
    with pytest.raises(ValueError, match=named(argument, value)):
        CONSTRUCTORS[name](3, **{argument: value})


@pytest.mark.parametrize("value", [1.0, 2, -0.2])
@pytest.mark.parametrize("name", ["LSTM", "LSTMP", "LayerNormLSTMCell", "DeepLSTM"])
def test_zoneout_cell_rate(name, value):
    with pytest.raises(ValueError, match=named("zoneout_cell", value)):
        CONSTRUCTORS[name](3, zoneout_cell=value)


@pytest.mark.parametrize("value", [1.0, -0.1])
def test_inter_layer_dropout_rate(value):
    with pytest.raises(ValueError, match=named("inter_layer_dropout", value)):
        DeepLSTM(3, inter_layer_dropout=value)


@pytest.mark.parametrize("value", ["gal", "Variational", None, 1])
@pytest.mark.parametrize("name", list(CONSTRUCTORS))
def test_unknown_recurrent_dropout_mode(name, value):
    with pytest.raises(ValueError, match=named("recurrent_dropout_mode", value)):
        CONSTRUCTORS[name](3, recurrent_dropout_mode=value)


@pytest.mark.parametrize("value", ["lstn", "LSTM", "transformer", None, 3])
def test_unknown_deep_lstm_cell(value):
    with pytest.raises(ValueError, match=named("cell", value)) as info:
        DeepLSTM(3, cell=value)
    for cell in layers.CELLS:
        assert repr(cell) in str(info.value)  # the message lists the choices


def test_unknown_cell_suggests_the_close_name():
    with pytest.raises(ValueError, match="Did you mean 'lstm'"):
        DeepLSTM(3, cell="lstn")


@pytest.mark.parametrize("value", [None, 0, -2, 2.0, "2", True])
@pytest.mark.parametrize("layer_class", [LSTMP, LSTMPCell])
def test_proj_units_must_be_a_positive_integer(layer_class, value):
    with pytest.raises(ValueError, match=named("proj_units", value)):
        layer_class(4, proj_units=value)


def test_deep_lstmp_needs_proj_units():
    with pytest.raises(ValueError, match=named("proj_units", None)):
        DeepLSTM(4, cell="lstmp")


@pytest.mark.parametrize(
    "argument, value", [("proj_clip", 0), ("proj_clip", -1.0), ("cell_clip", -2)]
)
def test_clips_must_be_positive(argument, value):
    with pytest.raises(ValueError, match=named(argument, value)):
        LSTMP(4, proj_units=2, **{argument: value})


@pytest.mark.parametrize("argument, value", [("cell_clip", 1.0), ("zoneout_cell", 0.1)])
@pytest.mark.parametrize("layer_class", [GRU, GRUCell])
def test_gru_has_no_cell_state(layer_class, argument, value):
    with pytest.raises(ValueError, match=named(argument, value)):
        layer_class(3, **{argument: value})


def test_deep_lstm_arguments():
    with pytest.raises(ValueError, match=named("num_layers", 0)):
        DeepLSTM(3, num_layers=0)
    with pytest.raises(ValueError, match=re.escape("units=[3, 3]")):
        DeepLSTM([3, 3], num_layers=3)


@pytest.mark.parametrize("value", ["yes", None])
@pytest.mark.parametrize("layer_class", [LSTM, GRU])
def test_use_cudnn(layer_class, value):
    with pytest.raises(ValueError, match=named("use_cudnn", value)):
        layer_class(3, use_cudnn=value)


def test_norm_epsilon():
    with pytest.raises(ValueError, match=named("norm_epsilon", 0)):
        LayerNormLSTM(3, norm_epsilon=0)


@pytest.mark.parametrize("shape", [(2, 4), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", SEQUENCE_LAYERS)
def test_input_of_wrong_rank(name, shape):
    layer = CONSTRUCTORS[name](3)
    message = rf"expected ndim=3, found ndim={len(shape)}[\s\S]*{re.escape(str(shape))}"
    with pytest.raises(ValueError, match=message):
        layer(np.zeros(shape, "float32"))
