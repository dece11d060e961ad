"""`DeepLSTM`: a stack of recurrent layers, with optional residual connections.

Stacking is how LSTMs get depth (Graves et al. 2013, "Speech Recognition with Deep
Recurrent Neural Networks"); residual connections between layers of equal width
keep deep stacks trainable (Wu et al. 2016, "Google's Neural Machine Translation
System", section 3.1); dropout between layers regularizes the non-recurrent
connections only (Zaremba et al. 2014, "Recurrent Neural Network Regularization").
"""

from __future__ import annotations

import difflib
import inspect

import keras
from keras import ops

from lstmsuite.layers.cifg_lstm import CIFGLSTM
from lstmsuite.layers.dropout import check_rate
from lstmsuite.layers.gru import GRU
from lstmsuite.layers.layer_norm_lstm import LayerNormLSTM
from lstmsuite.layers.lstm import LSTM
from lstmsuite.layers.lstmp import LSTMP
from lstmsuite.layers.min_gru import MinGRU
from lstmsuite.layers.min_lstm import MinLSTM
from lstmsuite.layers.mlstm import MLSTM
from lstmsuite.layers.mogrifier_lstm import MogrifierLSTM
from lstmsuite.layers.peephole_lstm import PeepholeLSTM
from lstmsuite.layers.recurrent import arguments_of, check_units
from lstmsuite.layers.simple_rnn import SimpleRNN
from lstmsuite.layers.slstm import SLSTM

# The names a config (or `DeepLSTM(cell=...)`) uses for each sequence layer.
CELLS = {
    "lstm": LSTM,
    "peephole": PeepholeLSTM,
    "cifg": CIFGLSTM,
    "lstmp": LSTMP,
    "layernorm": LayerNormLSTM,
    "gru": GRU,
    "slstm": SLSTM,
    "mlstm": MLSTM,
    "minlstm": MinLSTM,
    "mingru": MinGRU,
    "mogrifier": MogrifierLSTM,
    "simple_rnn": SimpleRNN,  # the plain RNN: the baseline, not a variant
}


def get_layer_class(cell: str):
    """The sequence layer class for a cell name; a ValueError names the choices."""
    if cell not in CELLS:
        close = difflib.get_close_matches(str(cell), list(CELLS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"Argument `cell` must be one of {list(CELLS)}.{hint} Received: "
            f"cell={cell!r}"
        )
    return CELLS[cell]


def recurrent_stack(
    units, num_layers=1, cell="lstm", residual=False, inter_layer_dropout=0.0, **kwargs
):
    """The recurrent layer for a (cell, depth) choice, as app configs state it.

    One layer needs no stack: it is the cell's own sequence layer (same weights as a
    `keras.layers.LSTM`/`GRU` where those apply); deeper ones are a `DeepLSTM`.
    `kwargs` go to the layer (`return_sequences`, dropout, `seed`, `name`, ...).
    """
    if num_layers == 1:
        return get_layer_class(cell)(units, **kwargs)
    return DeepLSTM(
        units,
        num_layers=num_layers,
        cell=cell,
        residual=residual,
        inter_layer_dropout=inter_layer_dropout,
        **kwargs,
    )


def _layer_argument(stack, name):
    """`stack`'s argument `name`, as its first layer has it, or as given where
    that layer has no such argument."""
    try:
        return getattr(stack.rnn_layers[0], name)
    except AttributeError:
        return stack._layer_arguments[name]


class _LayerArgument:
    """A read-only attribute of `DeepLSTM`: one of the arguments it passes to its
    layers, as its first layer has it, or as given where that layer has none."""

    def __set_name__(self, owner, name):
        self.name = name
        self.__doc__ = f"The layers' `{name}` (read-only)."

    def __get__(self, stack, owner=None):
        if stack is None:
            return self
        return _layer_argument(stack, self.name)

    def __set__(self, stack, value):
        raise AttributeError(
            f"`{self.name}` of DeepLSTM is its layers' argument and cannot be set"
        )


@keras.saving.register_keras_serializable(package="lstmsuite")
class DeepLSTM(keras.layers.Layer):
    """A stack of `num_layers` recurrent layers of one cell type.

    Layer k's output sequence is layer k+1's input. With `residual=True`, a layer
    whose input and output widths are equal adds its input to its output (the first
    layer too, if the inputs already have that width). `inter_layer_dropout` drops
    the outputs of every layer but the last, during training only.

    Args:
        units: Positive integer, or a list of `num_layers` positive integers: the
            width of each layer.
        num_layers: Positive integer, the depth of the stack.
        cell: One of `"lstm"`, `"peephole"`, `"cifg"`, `"lstmp"`, `"layernorm"`,
            `"gru"`, `"slstm"`, `"mlstm"`, `"minlstm"`, `"mingru"`, `"mogrifier"`
            (the keys of `CELLS`).
        residual: Whether to add residual connections between layers of equal
            width.
        inter_layer_dropout: Float in [0, 1). Dropout rate between layers.
        return_sequences: Whether to return the last layer's whole sequence or its
            last output.
        return_state: Whether to also return the final states of every layer,
            flattened in layer order (`h1, c1, h2, c2, ...` for LSTMs).
        go_backwards: If True, process the sequence backwards (the output sequence
            is then reversed, as with `keras.layers.LSTM`).
        stateful: If True, every layer keeps its last state for the next batch.
        unroll: If True, unroll every layer's loop.
        zero_output_for_mask: Whether masked steps output zeros.
        seed: Random seed; layer k uses `seed + k` for its own dropout.
        activation, recurrent_activation, use_bias: As in `LSTM`, for every layer.
        kernel_initializer, recurrent_initializer, bias_initializer: As in `LSTM`.
        unit_forget_bias: As in `LSTM` (LSTM cells only).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: As in `LSTM`.
        activity_regularizer: Regularizer of the output of the stack (and of the
            states it returns with `return_state`), as for any Keras layer.
        kernel_constraint, recurrent_constraint, bias_constraint: As in `LSTM`.
        dropout, recurrent_dropout, recurrent_dropout_mode: As in `LSTM`.
        zoneout_cell, zoneout_hidden, cell_clip: As in `LSTM` (`GRU`: only
            `zoneout_hidden`).
        peephole_initializer: As in `PeepholeLSTM` (`cell="peephole"`).
        proj_units, proj_clip: As in `LSTMP` (`cell="lstmp"`, which needs
            `proj_units`).
        norm_epsilon: As in `LayerNormLSTM` (`cell="layernorm"`).
        reset_after: As in `GRU` (`cell="gru"`).
        num_heads, forget_gate: As in `SLSTM` and `MLSTM` (`cell="slstm"`,
            `"mlstm"`).
        rounds, rank, mogrifier_initializer: As in `MogrifierLSTM`
            (`cell="mogrifier"`).
        use_cudnn: As in `LSTM` and `GRU` (`cell="lstm"` or `"gru"`).
        **kwargs: Arguments of `keras.layers.Layer` (`name`, `dtype`, ...).

    The arguments from `activation` on are passed to every layer where they differ
    from their defaults (and only those are in the config), so that the defaults
    suit every cell: a stack of GRUs gets no `unit_forget_bias`. As attributes
    they read as the first layer has them (`stack.activation` is a function), or
    as given where its cell does not take them.

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`.
        mask: Boolean tensor `(batch, timesteps)`: which steps to skip.
        training: Python boolean, whether dropout and zoneout are active.
        initial_state: Flat list of initial states of every layer, in the order
            `return_state` returns them.

    Example:

    >>> stack = DeepLSTM(32, num_layers=3, cell="layernorm", residual=True)
    >>> stack(np.zeros((2, 10, 32), "float32")).shape
    (2, 32)
    """

    def __init__(
        self,
        units,
        num_layers=2,
        cell="lstm",
        residual=False,
        inter_layer_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        seed=None,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        recurrent_dropout_mode="variational",
        zoneout_cell=0.0,
        zoneout_hidden=0.0,
        cell_clip=None,
        peephole_initializer="glorot_uniform",
        proj_units=None,
        proj_clip=None,
        norm_epsilon=1e-5,
        reset_after=True,
        num_heads=1,
        forget_gate="sigmoid",
        rounds=5,
        rank=None,
        mogrifier_initializer="glorot_uniform",
        use_cudnn="auto",
        **kwargs,
    ):
        arguments = arguments_of(locals())
        # What is left: the stack's own arguments (named above), those of
        # `keras.layers.Layer`, and anything else, which every layer is given (and
        # rejects if it is unknown).
        cell_kwargs = {
            name: value
            for name, value in arguments.items()
            if name not in _OWN_ARGUMENTS
            and name not in _LAYER_BASE_ARGUMENTS
            and not _is_default(name, value)
        }
        super().__init__(
            activity_regularizer=activity_regularizer,
            **{key: kwargs[key] for key in _LAYER_BASE_ARGUMENTS if key in kwargs},
        )
        self._layer_arguments = {name: arguments[name] for name in _LAYER_DEFAULTS}
        self.num_layers = check_units("num_layers", num_layers)
        if isinstance(units, (list, tuple)):
            if len(units) != num_layers:
                raise ValueError(
                    "Argument `units` must be an integer or a list of `num_layers` "
                    f"integers. Received: units={units!r}, num_layers={num_layers}"
                )
            self.units = [check_units("units", u) for u in units]
        else:
            self.units = [check_units("units", units)] * num_layers
        layer_class = get_layer_class(cell)
        self.cell = cell
        self.residual = bool(residual)
        self.inter_layer_dropout = check_rate(
            "inter_layer_dropout", inter_layer_dropout
        )
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful
        self.unroll = unroll
        self.seed = seed
        self.cell_kwargs = cell_kwargs
        self.supports_masking = True
        self.input_spec = keras.layers.InputSpec(ndim=3)

        self.rnn_layers = [
            layer_class(
                layer_units,
                return_sequences=True,
                return_state=True,
                stateful=stateful,
                unroll=unroll,
                seed=None if seed is None else seed + k,
                dtype=self.dtype_policy,
                name=f"{cell}_{k}",
                **cell_kwargs,
            )
            for k, layer_units in enumerate(self.units)
        ]
        self.dropout_layers = [
            keras.layers.Dropout(
                self.inter_layer_dropout,
                seed=None if seed is None else seed + 1000 + k,
                dtype=self.dtype_policy,
            )
            for k in range(num_layers - 1)
        ]
        self.zero_output_for_mask = zero_output_for_mask

    activation = _LayerArgument()
    recurrent_activation = _LayerArgument()
    use_bias = _LayerArgument()
    kernel_initializer = _LayerArgument()
    recurrent_initializer = _LayerArgument()
    bias_initializer = _LayerArgument()
    unit_forget_bias = _LayerArgument()
    kernel_regularizer = _LayerArgument()
    recurrent_regularizer = _LayerArgument()
    bias_regularizer = _LayerArgument()
    kernel_constraint = _LayerArgument()
    recurrent_constraint = _LayerArgument()
    bias_constraint = _LayerArgument()
    dropout = _LayerArgument()
    recurrent_dropout = _LayerArgument()
    recurrent_dropout_mode = _LayerArgument()
    zoneout_cell = _LayerArgument()
    zoneout_hidden = _LayerArgument()
    cell_clip = _LayerArgument()
    peephole_initializer = _LayerArgument()
    proj_units = _LayerArgument()
    proj_clip = _LayerArgument()
    norm_epsilon = _LayerArgument()
    reset_after = _LayerArgument()
    num_heads = _LayerArgument()
    forget_gate = _LayerArgument()
    rounds = _LayerArgument()
    rank = _LayerArgument()
    mogrifier_initializer = _LayerArgument()

    @property
    def use_cudnn(self):
        """The layers' `use_cudnn` (`LSTM`, `GRU`), or as given for other cells."""
        return _layer_argument(self, "use_cudnn")

    @use_cudnn.setter
    def use_cudnn(self, value):
        # Settable, as on `keras.layers.LSTM`: `keras.layers.Bidirectional` copies
        # it from the layer it wraps onto that layer's two copies.
        self._layer_arguments["use_cudnn"] = value
        for layer in self.rnn_layers:
            if hasattr(layer, "use_cudnn"):
                layer.use_cudnn = value

    @property
    def zero_output_for_mask(self):
        return self._zero_output_for_mask

    @zero_output_for_mask.setter
    def zero_output_for_mask(self, value):
        # keras.layers.Bidirectional sets this on the layers it wraps.
        self._zero_output_for_mask = bool(value)
        self.rnn_layers[-1].zero_output_for_mask = bool(value)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for k, layer in enumerate(self.rnn_layers):
            layer.build(shape)
            shape = shape[:-1] + (layer.cell.output_size,)
            if k < len(self.dropout_layers):
                self.dropout_layers[k].build(shape)

    def call(self, inputs, mask=None, training=None, initial_state=None):
        if self.go_backwards:
            # Reverse once, then every layer runs forward over the reversed steps.
            inputs = ops.flip(inputs, axis=1)
            if mask is not None:
                mask = ops.flip(mask, axis=1)
        states = []
        offset = 0
        x = inputs
        for k, layer in enumerate(self.rnn_layers):
            layer_initial = None
            if initial_state is not None:
                n = len(layer.state_size)
                layer_initial = list(initial_state[offset : offset + n])
                offset += n
            y, *layer_states = layer(
                x, mask=mask, training=training, initial_state=layer_initial
            )
            if self.residual and x.shape[-1] == y.shape[-1]:
                y = y + x
            states.extend(layer_states)
            if k < len(self.dropout_layers):
                y = self.dropout_layers[k](y, training=training)
            x = y
        output = x if self.return_sequences else self._last_output(x, mask)
        if self.return_state:
            return [output, *states]
        return output

    def _last_output(self, sequence, mask):
        if mask is None:
            return sequence[:, -1]
        # With masking, the last output is the one at the last unmasked step, as
        # keras.layers.RNN returns it.
        steps = ops.arange(ops.shape(sequence)[1])
        last = ops.max(ops.where(mask, steps[None, :], -1), axis=1)
        last = ops.maximum(last, 0)
        return ops.take_along_axis(sequence, last[:, None, None], axis=1)[:, 0]

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            n_states = sum(len(layer.state_size) for layer in self.rnn_layers)
            return [output_mask] + [None] * n_states
        return output_mask

    def compute_output_shape(self, inputs_shape, initial_state_shape=None):
        # Keras matches `<call argument>_shape` names: `inputs`, `initial_state`.
        batch, time = inputs_shape[0], inputs_shape[1]
        width = self.rnn_layers[-1].cell.output_size
        output = (batch, time, width) if self.return_sequences else (batch, width)
        if not self.return_state:
            return output
        states = [
            (batch, size) for layer in self.rnn_layers for size in layer.state_size
        ]
        return (output, *states)

    def reset_state(self):
        for layer in self.rnn_layers:
            layer.reset_state()

    def reset_states(self):
        self.reset_state()

    def get_config(self):
        config = {
            "units": self.units,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "residual": self.residual,
            "inter_layer_dropout": self.inter_layer_dropout,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "seed": self.seed,
            **self.cell_kwargs,
        }
        return {**super().get_config(), **config}


# `DeepLSTM`'s own arguments, and those of `keras.layers.Layer` it takes itself.
_OWN_ARGUMENTS = (
    "units",
    "num_layers",
    "cell",
    "residual",
    "inter_layer_dropout",
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
    "seed",
    "activity_regularizer",
)
_LAYER_BASE_ARGUMENTS = ("name", "dtype", "trainable")
# The arguments `DeepLSTM` passes on to its layers, with their defaults.
_LAYER_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(DeepLSTM.__init__).parameters.items()
    if parameter.kind is parameter.POSITIONAL_OR_KEYWORD
    and name not in ("self", *_OWN_ARGUMENTS)
}


def _is_default(name, value) -> bool:
    if name not in _LAYER_DEFAULTS:
        return False
    default = _LAYER_DEFAULTS[name]
    return value is default or (type(value) is type(default) and value == default)
