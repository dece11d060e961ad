"""`LSTM` and `GRU` are drop-ins for Keras's: same arguments, same attributes.

Every argument of every public class is an explicit keyword of its signature (so
that `help()` and IDEs show it) and readable as an attribute; `keras.src` is
imported in `layers/keras_internals.py` only.
"""

import ast
import inspect
from pathlib import Path

import keras
import numpy as np
import pytest

from lstmsuite import layers
from lstmsuite.layers import GRU, LSTM, DeepLSTM, GRUCell, LSTMCell
from lstmsuite.layers.recurrent import RecurrentLayer
from tests.layers.helpers import documented_arguments

CLASSES = [getattr(layers, n) for n in layers.__all__]
CLASSES = [c for c in CLASSES if inspect.isclass(c)]
SEQUENCE_LAYERS = [c for c in CLASSES if issubclass(c, RecurrentLayer)]
# What a sequence layer takes beyond its cell's arguments: `keras.layers.RNN`'s,
# the output regularizer of `keras.layers.Layer`, and the choice of kernel.
LAYER_ONLY = {
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
    "activity_regularizer",
    "use_cudnn",
}

DROP_INS = {
    "LSTM": (LSTM, keras.layers.LSTM),
    "GRU": (GRU, keras.layers.GRU),
    "LSTMCell": (LSTMCell, keras.layers.LSTMCell),
    "GRUCell": (GRUCell, keras.layers.GRUCell),
}


def parameters(cls):
    return inspect.signature(cls.__init__).parameters


def named_parameters(cls):
    """The names of `cls.__init__`'s parameters, without `self` and `**kwargs`."""
    return [
        name
        for name, p in parameters(cls).items()
        if name != "self" and p.kind is not p.VAR_KEYWORD
    ]


# Signatures.


@pytest.mark.parametrize("name", list(DROP_INS))
def test_every_keras_parameter_with_the_same_default(name):
    ours, theirs = (parameters(cls) for cls in DROP_INS[name])
    for parameter in theirs.values():
        assert parameter.name in ours, f"{name} lacks {parameter.name!r}"
        assert ours[parameter.name].kind == parameter.kind, parameter.name
        assert ours[parameter.name].default == parameter.default, parameter.name


@pytest.mark.parametrize("name", list(DROP_INS))
def test_keras_parameters_come_first_in_keras_order(name):
    """So that positional arguments mean what they mean for Keras's class."""
    ours, theirs = (named_parameters(cls) for cls in DROP_INS[name])
    assert ours[: len(theirs)] == theirs


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_only_layer_base_arguments_go_through_kwargs(cls):
    """Every argument is named; `**kwargs` is left to `keras.layers.Layer`'s
    (`name`, `dtype`, `trainable`, ...): none of those is named."""
    names = named_parameters(cls)
    assert names[0] == "units"
    assert len(names) >= 12  # the cell arguments, spelled out
    base = set(parameters(keras.layers.Layer)) - {"self", "kwargs"}
    assert base - {"activity_regularizer"} == {"trainable", "dtype", "autocast", "name"}
    assert not (set(names) & (base - {"activity_regularizer"}))
    assert list(parameters(cls).values())[-1].kind is inspect.Parameter.VAR_KEYWORD


def test_shared_arguments_have_one_default():
    """An argument that several classes take has the same default in all."""
    defaults = {}
    for cls in CLASSES:
        for name in named_parameters(cls):
            default = parameters(cls)[name].default
            defaults.setdefault(name, {})[cls.__name__] = default
    for name, by_class in defaults.items():
        assert len(set(map(repr, by_class.values()))) == 1, (name, by_class)
    assert len(defaults["dropout"]) == len(CLASSES)


@pytest.mark.parametrize("cls", SEQUENCE_LAYERS, ids=lambda c: c.__name__)
def test_a_sequence_layer_takes_its_cells_arguments(cls):
    ours, cell = set(named_parameters(cls)), set(named_parameters(cls.cell_class))
    assert cell <= ours
    assert ours - cell <= LAYER_ONLY
    assert LAYER_ONLY - {"use_cudnn"} <= ours


def test_deep_lstm_takes_every_layers_arguments():
    ours = set(named_parameters(DeepLSTM))
    for layer_class in layers.CELLS.values():
        assert set(named_parameters(layer_class)) <= ours, layer_class.__name__


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_documented_arguments_are_named_parameters(cls):
    documented = documented_arguments(cls)
    assert "units" in documented
    for name in documented:
        if name == "kwargs":
            assert "kwargs" in parameters(cls)
        else:
            assert name in named_parameters(cls), f"{cls.__name__}: {name!r}"


# Attributes.


def lstm_arguments():
    """Non-default values of every `keras.layers.LSTM` argument (fresh objects at
    each call, so that equal values are not the same object)."""
    return dict(
        activation="relu",
        recurrent_activation="hard_sigmoid",
        use_bias=False,
        kernel_initializer=keras.initializers.HeNormal(seed=3),
        recurrent_initializer="glorot_normal",
        bias_initializer="ones",
        unit_forget_bias=False,
        kernel_regularizer=keras.regularizers.L2(0.01),
        recurrent_regularizer="l1",
        bias_regularizer=keras.regularizers.L1L2(l1=0.1, l2=0.2),
        activity_regularizer="l2",
        kernel_constraint=keras.constraints.MaxNorm(2.0),
        recurrent_constraint="non_neg",
        bias_constraint="unit_norm",
        dropout=0.25,
        recurrent_dropout=0.125,
        seed=7,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        stateful=True,
        unroll=True,
        use_cudnn=False,
    )


def gru_arguments(reset_after):
    arguments = lstm_arguments()
    del arguments["unit_forget_bias"]
    return {**arguments, "reset_after": reset_after}


CASES = {
    "lstm": (LSTM, keras.layers.LSTM, lstm_arguments),
    "gru_reset_after": (GRU, keras.layers.GRU, lambda: gru_arguments(True)),
    "gru_reset_before": (GRU, keras.layers.GRU, lambda: gru_arguments(False)),
}


def public_names(layer):
    return {name for name in dir(layer) if not name.startswith("_")}


def comparable(value):
    """What two attribute values must share: Keras objects (initializers,
    regularizers, constraints) their class and config, the rest (activation
    functions, numbers, flags) equality."""
    if hasattr(value, "get_config"):
        return type(value), value.get_config()
    return value


def keras_value(layer, name):
    # `keras.layers.LSTM` has no `seed` attribute of its own: its cell's.
    return getattr(layer, name) if hasattr(layer, name) else getattr(layer.cell, name)


@pytest.mark.parametrize("case", list(CASES))
def test_every_public_keras_attribute_exists(case):
    ours_class, keras_class, arguments = CASES[case]
    reset_after = {"reset_after": arguments()["reset_after"]} if "gru" in case else {}
    ours, theirs = ours_class(4, **reset_after), keras_class(4, **reset_after)
    missing = public_names(theirs) - public_names(ours)
    assert not missing
    x = np.zeros((2, 3, 5), "float32")
    # Built and called: the attributes of a layer in use.
    ours(x)
    theirs(x)
    assert not public_names(theirs) - public_names(ours)


@pytest.mark.parametrize("case", list(CASES))
def test_argument_attributes_agree_with_keras(case):
    ours_class, keras_class, arguments = CASES[case]
    ours, theirs = ours_class(4, **arguments()), keras_class(4, **arguments())
    names = named_parameters(keras_class)
    assert len(names) > 20
    for name in names:
        value = getattr(ours, name)
        assert comparable(value) == comparable(keras_value(theirs, name)), name
    given = arguments()
    # And they are the values given, not two equal defaults.
    assert ours.units == 4
    assert ours.activation is keras.activations.relu
    assert ours.recurrent_activation is keras.activations.hard_sigmoid
    assert comparable(ours.kernel_initializer) == comparable(
        given["kernel_initializer"]
    )
    assert isinstance(ours.recurrent_initializer, keras.initializers.GlorotNormal)
    assert isinstance(ours.recurrent_regularizer, keras.regularizers.L1)
    assert isinstance(ours.activity_regularizer, keras.regularizers.L2)
    assert isinstance(ours.recurrent_constraint, keras.constraints.NonNeg)
    assert (ours.dropout, ours.recurrent_dropout, ours.seed) == (0.25, 0.125, 7)
    assert ours.use_bias is False and ours.use_cudnn is False
    assert ours.return_sequences and ours.return_state and ours.go_backwards
    assert ours.stateful and ours.unroll
    if "gru" in case:
        assert ours.reset_after is given["reset_after"]
    else:
        assert ours.unit_forget_bias is False


# Our own arguments, for every class: one non-default value each, read back.
OWN_ARGUMENTS = {
    "recurrent_dropout_mode": "semeniuta",
    "zoneout_hidden": 0.25,
    "zoneout_cell": 0.125,
    "cell_clip": 3.0,
    "proj_units": 2,
    "proj_clip": 1.5,
    "norm_epsilon": 1e-3,
    "peephole_initializer": keras.initializers.Ones(),
    "num_heads": 2,
    "forget_gate": "exponential",
    "rounds": 3,
    "rank": 2,
    "mogrifier_initializer": keras.initializers.Ones(),
    "zero_output_for_mask": True,
    "inter_layer_dropout": 0.5,
    "num_layers": 3,
    "residual": True,
    "seed": 11,
}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_argument_is_an_attribute(cls):
    names = named_parameters(cls)
    given = {name: value for name, value in OWN_ARGUMENTS.items() if name in names}
    if cls is DeepLSTM:  # a stack of LSTMPs: the other variants' options stay unset
        own = named_parameters(layers.LSTMP) + ["num_layers", "residual"]
        given = {n: v for n, v in given.items() if n in own or "layer" in n}
        given.update(cell="lstmp")
    layer = cls(4, **given)
    for name in names:
        assert hasattr(layer, name), f"{cls.__name__}.{name}"
    for name, value in given.items():
        assert comparable(getattr(layer, name)) == comparable(value), name
    assert layer.units == ([4, 4, 4] if cls is DeepLSTM else 4)


def test_deep_lstm_attributes_read_as_its_layers_have_them():
    stack = DeepLSTM(
        3, cell="gru", activation="relu", reset_after=False, kernel_regularizer="l2"
    )
    assert stack.activation is keras.activations.relu
    assert stack.reset_after is False
    assert isinstance(stack.kernel_regularizer, keras.regularizers.L2)
    assert stack.recurrent_activation is stack.rnn_layers[1].recurrent_activation
    assert stack.proj_units is None  # a GRU has none: the argument as given
    assert DeepLSTM(3, cell="lstmp", proj_units=2).proj_units == 2


def test_bidirectional_copies_use_cudnn_onto_a_stacks_layers():
    """`use_cudnn` is settable, as on Keras's layers: `Bidirectional` copies it
    onto the two copies of the layer it wraps (it is not in the config)."""
    wrapper = keras.layers.Bidirectional(DeepLSTM(3, cell="gru", use_cudnn=False))
    for stack in (wrapper.forward_layer, wrapper.backward_layer):
        assert stack.use_cudnn is False
        assert [layer.use_cudnn for layer in stack.rnn_layers] == [False, False]
    peephole = keras.layers.Bidirectional(DeepLSTM(3, cell="peephole"))
    assert peephole.backward_layer.use_cudnn == "auto"  # as given: no such layer


@pytest.mark.parametrize("cls", [LSTM, GRU, DeepLSTM], ids=lambda c: c.__name__)
def test_argument_attributes_are_read_only(cls):
    """As Keras's (`keras.layers.LSTM(3).dropout = 0.5` raises too): the value
    is the cell's, and in the config."""
    with pytest.raises(AttributeError):
        keras.layers.LSTM(3).dropout = 0.5
    layer = cls(3, dropout=0.25)
    for name in ("dropout", "activation", "recurrent_dropout_mode"):
        with pytest.raises(AttributeError, match=name):
            setattr(layer, name, 0.5)
    assert layer.dropout == 0.25


# Keras internals.


def private_keras_uses(path):
    """`(line, what)` for each import of `keras.src`, `keras.src.` attribute and
    `import_module("keras.src...")` in the Python file at `path`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Attribute):
            names = [ast.unparse(node)]
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func).endswith("import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [str(node.args[0].value)]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.startswith("keras.src")]
    return found


def test_keras_src_is_used_only_in_keras_internals():
    package = Path(layers.__file__).parent
    root = Path(__file__).resolve().parents[2]
    files = sorted(
        path
        for folder in ("layers", "pipelines", "apps", "tests")
        for path in (root / folder).rglob("*.py")
    )
    internals = package / "keras_internals.py"
    assert private_keras_uses(internals)  # the check sees what it looks for
    uses = {path.name: private_keras_uses(path) for path in files if path != internals}
    assert len(uses) > 20
    assert not {name: found for name, found in uses.items() if found}


def test_keras_internals_are_keras_own_modules():
    """Tests patch these objects: they must be the ones Keras itself uses."""
    from lstmsuite.layers import keras_internals, recurrent

    assert recurrent.keras_backend is keras_internals.keras_backend
    assert keras_internals.keras_backend.rnn.__module__.startswith("keras.src.backend")
    assert keras_internals.keras_backend.lstm.__name__ == "lstm"
    assert isinstance(LSTMCell(2), keras_internals.DropoutRNNCell)
    with pytest.raises(AttributeError, match="no_such_module"):
        keras_internals.no_such_module  # noqa: B018
