"""What every cell and sequence layer of `layers/` shares.

The split follows `keras.layers.LSTMCell` / `keras.layers.RNN`: a cell computes one
step, a sequence layer owns the loop. Each cell here computes a step in three parts:

- `prepare_inputs(x)`: work on x that is cheaper for a whole sequence at once than
  per step; our sequence layers run it before the loop (identity for most cells).
- `project_inputs(x)`: the rest of what depends on x(t) only (W x + b). It works on
  one step (batch, features) or on a whole sequence (batch, time, features).
- `step(z, states, masks)`: the recurrence, given the projected input z(t).

`cell.call(x, states)` runs all three, so a cell works inside a plain
`keras.layers.RNN`.
Our sequence layers draw every dropout/zoneout mask before the loop (so the loop body
is stateless, as JAX's `scan` needs) and project x per step inside it (measured
faster than one matmul for the whole sequence, on TensorFlow and on JAX). On
TensorFlow's CPU executor, inference runs a large batch as two loops over its halves
(`_split_batch`), and a step's ops are ordered so that the recurrence goes first:
the input projection waits for h(t-1) (`_after`), and in the backward pass the
weight gradients wait for dh(t-1) (`recurrent_matmul`).
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

import keras
from keras import activations, constraints, initializers, ops, regularizers, tree

from lstmsuite.layers import dropout as dropout_lib
from lstmsuite.layers.keras_internals import DropoutRNNCell, keras_backend


class StepMasks(NamedTuple):
    """Regularization inputs of one step; `None` means "not used".

    `recurrent` is the per-sequence recurrent dropout mask (variational: width of
    h, semeniuta: width of the candidate). `zoneout_cell` / `zoneout_hidden` are boolean
    masks (True: keep the previous value) in training and the zoneout rates
    (floats) at inference.
    """

    recurrent: object = None
    zoneout_cell: object = None
    zoneout_hidden: object = None
    # Whether the step runs in training (cells may then prepare for a gradient).
    training: bool = False
    # What the cell derived from its weights for this sequence (`derive_weights`),
    # so that the loop body does not recompute it at every step; None in a single
    # `cell.call` and in a one-step loop (see `RecurrentCell.sequence_masks`).
    derived: object = None


class _LoopInputs(NamedTuple):
    """What the generic loop slices per step: the inputs and the zoneout masks
    drawn for every step (a dict of (batch, time, width) masks, only
    built when zoneout is on).

    `shape` is the inputs' because Keras's TensorFlow `rnn` reads
    `inputs.shape[1]` when the time dimension is unknown (any padded length in a
    `tf.function`), which a plain tuple does not have.
    """

    x: object
    zoneout: dict

    @property
    def shape(self):
        return self.x.shape


def recurrent_matmul(h, kernel, z, training=False):
    """`(h @ kernel, z)`: a step's recurrent matmul, with its projected input `z`.

    The values are those of `ops.matmul(h, kernel)` and `z`, unchanged. What this
    adds is an order for the backward pass, on TensorFlow in training: the
    gradient for h(t-1), dh = dr kernelᵀ, which the step before waits for, runs
    before the weight gradients hᵀ dr and (through `z`) xᵀ dz. Left to itself,
    TensorFlow's executor starts those three matmuls at once, in an order its
    oneDNN rewrite picks per compiled function: when dh is not first, the chain
    of steps waits on weight gradients. That is why two identical models in
    one process trained 120 or 134 ms a step (`lstmsuite bench layers` shape,
    2-core CPU); with this order every model trains at the faster time. `GRU`
    does not use it: its step measured 5% slower with it (98 vs 92-94 ms).
    """
    if not training or keras.backend.backend() != "tensorflow":
        return ops.matmul(h, kernel), z
    import tensorflow as tf

    if tf.executing_eagerly():  # eager runs one op at a time: no order to fix
        return ops.matmul(h, kernel), z
    return _dh_first_matmul(h, tf.convert_to_tensor(kernel), z)


def _dh_first_matmul(h, kernel, z):
    import tensorflow as tf

    @tf.custom_gradient
    def matmul(h, kernel, z):
        def grad(dr, dz):
            # The same three ops autodiff emits; only the control dependencies
            # are new.
            dh = tf.matmul(dr, kernel, transpose_b=True, name="dh")
            with tf.control_dependencies([dh]):
                dkernel = tf.matmul(h, dr, transpose_a=True, name="dkernel")
            # z's gradient (which feeds the input weight gradient) is released
            # after dkernel: the weight gradients then take one thread in turn
            # while the previous step runs on the other (`LayerNormLSTM` 2%
            # faster than releasing both at dh, the others unchanged).
            with tf.control_dependencies([dkernel]):
                dz = None if dz is None else tf.identity(dz, name="dz")
            return dh, dkernel, dz

        return (tf.matmul(h, kernel), z), grad

    return matmul(h, kernel, z)


def _after(x, anchor):
    """`x` (a tensor or a structure of them) unchanged, released to the ops that
    use it only once `anchor` is computed (TensorFlow graphs; elsewhere `x`)."""
    if keras.backend.backend() != "tensorflow":
        return x
    import tensorflow as tf

    if tf.executing_eagerly():
        return x
    with tf.control_dependencies([anchor]):
        return tree.map_structure(tf.identity, x)


def check_units(name: str, value) -> int:
    """Returns `value` if it is a positive int, else raises a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Argument `{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return value


def reject_arguments(owner: str, arguments: dict, names, reason: str) -> None:
    """A ValueError naming the first of `names` found in `arguments`: arguments of
    `RecurrentCell` that the cell `owner` takes no value for (`reason` says why),
    given through its `**kwargs`."""
    for name in names:
        if name in arguments:
            raise ValueError(
                f"{owner} {reason}: argument `{name}` is not supported. "
                f"Received: {name}={arguments[name]!r}"
            )


def check_clip(name: str, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(
            f"Argument `{name}` must be None or a positive number. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def arguments_of(init_locals: dict) -> dict:
    """The arguments an `__init__` received, from its `locals()`.

    `init_locals` must be taken first thing in `__init__`, before it defines any
    variable: it then holds exactly the named parameters (plus `self`, and
    `__class__` where the method calls `super()`). Returns those by name, followed
    by what `**kwargs` collected. Our classes spell out every argument in their
    signatures (for `help()`, IDEs and `inspect.signature`, as Keras does); this
    passes them on to the base class without writing the list a second time.
    """
    arguments = {
        name: value
        for name, value in init_locals.items()
        if name not in ("self", "__class__", "kwargs")
    }
    return {**arguments, **init_locals.get("kwargs", {})}


class CellAttribute:
    """A read-only attribute of a sequence layer that reads its cell's.

    As `keras.layers.LSTM` exposes `units`, `activation`, `dropout`, ... as
    properties returning `self.cell.<name>`, so do ours, for every cell argument:
    `LSTM(4).activation` is the activation function, `.kernel_initializer` the
    initializer object, `.dropout` the rate.
    """

    def __set_name__(self, owner, name):
        self.name = name
        self.__doc__ = f"The cell's `{name}` (read-only)."

    def __get__(self, layer, owner=None):
        if layer is None:
            return self
        return getattr(layer.cell, self.name)

    def __set__(self, layer, value):
        raise AttributeError(
            f"`{self.name}` of {type(layer).__name__} is its cell's argument and "
            "cannot be set"
        )


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class of the cells: arguments, checks, weights, masks and config.

    Subclasses set `gate_blocks` (how many `units`-wide blocks the kernel has) and
    `forget_block` (which block gets `unit_forget_bias`, or None), and implement
    `step`. Arguments are those of `keras.layers.LSTMCell`, in its order, then
    `recurrent_dropout_mode`, `zoneout_cell`, `zoneout_hidden` (see
    `lstmsuite.layers.dropout`) and `cell_clip`: the signature of `LSTMCell` and
    `CIFGLSTMCell`, which document them. A subclass with arguments of its own spells
    out the whole list in its signature and passes it on with `arguments_of`.
    """

    gate_blocks = 4
    forget_block: int | None = 1
    has_cell_state = True

    @property
    def retention_gate(self) -> tuple[int, float] | None:
        """`(block, sign)` of the gate whose bias sets how long the state lasts:
        raising `sign * bias` keeps more of it (the forget gate: +1). None for a
        cell without such a gate. Chrono initialization uses it."""
        return None if self.forget_block is None else (self.forget_block, 1.0)

    # Arguments of this class the subclass has no use for: left out of its config.
    config_keys_not_taken: tuple[str, ...] = ()

    def __init__(
        self,
        units,
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
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        recurrent_dropout_mode="variational",
        zoneout_cell=0.0,
        zoneout_hidden=0.0,
        cell_clip=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units("units", units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = dropout_lib.check_rate("dropout", dropout)
        self.recurrent_dropout = dropout_lib.check_rate(
            "recurrent_dropout", recurrent_dropout
        )
        self.recurrent_dropout_mode = dropout_lib.check_recurrent_dropout_mode(
            recurrent_dropout_mode
        )
        self.zoneout_cell = dropout_lib.check_rate("zoneout_cell", zoneout_cell)
        self.zoneout_hidden = dropout_lib.check_rate("zoneout_hidden", zoneout_hidden)
        if self.zoneout_cell and not self.has_cell_state:
            raise ValueError(
                f"{type(self).__name__} has no cell state, so `zoneout_cell` must be "
                f"0. Received: zoneout_cell={zoneout_cell!r}"
            )
        self.cell_clip = check_clip("cell_clip", cell_clip)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    # Sizes. `output_size` is the width of h; the state of an LSTM is [h, c].
    @property
    def output_size(self):
        return self.units

    @property
    def state_size(self):
        if self.has_cell_state:
            return [self.output_size, self.units]
        return [self.output_size]

    @property
    def gate_units(self):
        """Width of the projected input z(t)."""
        return self.gate_blocks * self.units

    @property
    def bias_shape(self):
        return (self.gate_units,)

    # Weights.
    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"The last dimension of the inputs to {type(self).__name__} must be "
                f"known. Received: input_shape={input_shape}"
            )
        self.kernel = self.add_weight(
            shape=(input_dim, self.gate_units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.output_size, self.gate_units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self.bias_shape,
                name="bias",
                initializer=self._bias_initializer(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        self.build_extra_weights(input_dim)

    def build_extra_weights(self, input_dim):
        """Hook for weights beyond kernel, recurrent kernel and bias."""

    def _bias_initializer(self):
        if not (self.unit_forget_bias and self.forget_block is not None):
            return self.bias_initializer
        units, blocks, forget = self.units, self.gate_blocks, self.forget_block

        def bias_initializer(_, *args, **kwargs):
            # The forget gate starts open (bias 1), as Jozefowicz et al. 2015
            # recommend and as keras.layers.LSTM does.
            parts = [
                initializers.get("ones")((units,), *args, **kwargs)
                if block == forget
                else self.bias_initializer((units,), *args, **kwargs)
                for block in range(blocks)
            ]
            return ops.concatenate(parts)

        return bias_initializer

    # The step.
    def prepare_inputs(self, inputs, masks=None):
        """Work on x (batch, ..., features) done for a whole sequence at once.

        `project_inputs` receives what this returns. Identity here. `masks`: the
        sequence's `StepMasks` (training flag, derived weights) where known.
        """
        return inputs

    def project_inputs(self, inputs, masks=None):
        """W x (+ b) for one step (batch, features) or a sequence (batch, time, f).

        `masks`: the sequence's `StepMasks` where known.
        """
        z = ops.matmul(inputs, self.kernel)
        if self.bias is not None:
            z = z + self.bias
        return z

    def step(self, z, states, masks):
        """One step of the recurrence from the projected input `z`.

        Returns `(output, new_states)`; `masks` is a `StepMasks`.
        """
        raise NotImplementedError

    def clip_cell(self, c):
        if self.cell_clip is None:
            return c
        return ops.clip(c, -self.cell_clip, self.cell_clip)

    def call(self, inputs, states, training=False):
        states = list(states) if tree.is_nested(states) else [states]
        if training and self.dropout:
            inputs = inputs * self.get_dropout_mask(inputs)
        batch = ops.shape(inputs)[0]
        masks = self.step_masks(states[0], training)
        if training:
            # Outside our sequence layers there is no sequence to draw masks for,
            # so zoneout masks are drawn per call (i.e. per step).
            masks = masks._replace(
                zoneout_cell=self._zoneout_mask((batch, self.units), self.zoneout_cell),
                zoneout_hidden=self._zoneout_mask(
                    (batch, self.output_size), self.zoneout_hidden
                ),
            )
        inputs = self.prepare_inputs(inputs, masks)
        z = self.project_inputs(inputs, masks)
        output, new_states = self.step(z, states, masks)
        return output, new_states

    # Masks.
    def step_masks(self, h, training):
        """The masks that stay fixed over a sequence; zoneout rates at inference."""
        if training:
            return StepMasks(
                recurrent=self.get_recurrent_dropout_mask(h), training=True
            )
        return StepMasks(
            zoneout_cell=self.zoneout_cell or None,
            zoneout_hidden=self.zoneout_hidden or None,
        )

    def derive_weights(self):
        """Hook: what a cell computes from its weights once per sequence, or None.

        `sequence_masks` puts it in `StepMasks.derived`; a single `call` leaves
        that None.
        """
        return None

    def sequence_masks(self, h, training, time_steps, rows=None):
        """`step_masks` for a loop over `time_steps` steps (None: unknown), with
        the derived weights where a loop amortizes them (not over one step, as
        in step-by-step decoding). `rows`: the batch size of each loop (a batch
        split in two runs two loops over its halves), where known."""
        masks = self.step_masks(h, training)
        if time_steps == 1:
            return masks
        return masks._replace(derived=self.derive_weights())

    def _zoneout_mask(self, shape, rate):
        if not rate:
            return None
        return dropout_lib.zoneout_mask(shape, rate, self.seed_generator)

    def get_dropout_mask(self, step_input):
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
            self._dropout_mask = dropout_lib.dropout_mask(
                ops.shape(step_input),
                self.dropout,
                self.seed_generator,
                step_input.dtype,
            )
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, h):
        if getattr(self, "_recurrent_dropout_mask", None) is None and (
            self.recurrent_dropout > 0
        ):
            width = (
                self.units
                if self.recurrent_dropout_mode == "semeniuta"
                else self.output_size
            )
            self._recurrent_dropout_mask = dropout_lib.dropout_mask(
                (ops.shape(h)[0], width),
                self.recurrent_dropout,
                self.seed_generator,
                h.dtype,
            )
        return getattr(self, "_recurrent_dropout_mask", None)

    def variational(self, h, masks):
        """h(t-1) as the recurrent matmul sees it (variational dropout)."""
        if masks.recurrent is not None and self.recurrent_dropout_mode == "variational":
            return h * masks.recurrent
        return h

    def add_recurrent(self, z, h, masks):
        """`z + U h(t-1)`: the gates' pre-activations (variational dropout on h)."""
        r, z = recurrent_matmul(
            self.variational(h, masks), self.recurrent_kernel, z, masks.training
        )
        return z + r

    def semeniuta(self, candidate, masks):
        """The candidate update as it enters the state (Semeniuta dropout)."""
        if masks.recurrent is not None and self.recurrent_dropout_mode == "semeniuta":
            return candidate * masks.recurrent
        return candidate

    def get_initial_state(self, batch_size=None):
        return [
            ops.zeros((batch_size, size), dtype=self.compute_dtype)
            for size in self.state_size
        ]

    def get_config(self):
        config = {
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "recurrent_dropout_mode": self.recurrent_dropout_mode,
            "zoneout_cell": self.zoneout_cell,
            "zoneout_hidden": self.zoneout_hidden,
            "cell_clip": self.cell_clip,
            "seed": self.seed,
        }
        for name in self.config_keys_not_taken:
            del config[name]
        return {**super().get_config(), **config}


# Arguments that belong to the sequence layer (and `keras.layers.Layer`), not the cell.
_LAYER_ARGS = (
    "return_sequences",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "zero_output_for_mask",
    "activity_regularizer",
    "name",
    "input_shape",
    "batch_input_shape",
    "batch_size",
    "input_dim",
)
_BASE_CONFIG_KEYS = ("name", "trainable", "dtype")


class RecurrentLayer(keras.layers.RNN):
    """Base class of the sequence layers: `keras.layers.RNN` around one of our cells.

    Everything `keras.layers.RNN` does (masking, `go_backwards`, `stateful`,
    `return_state`, `unroll`, `Bidirectional`) works unchanged; only the inner loop
    is replaced, by one that draws every dropout/zoneout mask up front.
    """

    cell_class: type[RecurrentCell] = RecurrentCell

    # The cell's arguments, read from the cell (see `CellAttribute`). Subclasses add
    # those of their own cell (`proj_units`, `reset_after`, ...).
    units = CellAttribute()
    activation = CellAttribute()
    recurrent_activation = CellAttribute()
    use_bias = CellAttribute()
    kernel_initializer = CellAttribute()
    recurrent_initializer = CellAttribute()
    bias_initializer = CellAttribute()
    unit_forget_bias = CellAttribute()
    kernel_regularizer = CellAttribute()
    recurrent_regularizer = CellAttribute()
    bias_regularizer = CellAttribute()
    kernel_constraint = CellAttribute()
    recurrent_constraint = CellAttribute()
    bias_constraint = CellAttribute()
    dropout = CellAttribute()
    recurrent_dropout = CellAttribute()
    seed = CellAttribute()
    recurrent_dropout_mode = CellAttribute()
    zoneout_cell = CellAttribute()
    zoneout_hidden = CellAttribute()
    cell_clip = CellAttribute()

    def __init__(self, units, **kwargs):
        """`kwargs`: every argument the subclass received (`arguments_of`).

        Those of `keras.layers.RNN` and `keras.layers.Layer` go to the layer (`dtype`
        and `trainable` to the cell too), all others to `cell_class`.
        """
        layer_kwargs = {key: kwargs.pop(key) for key in _LAYER_ARGS if key in kwargs}
        # The layer shares the cell's dtype policy and trainability (as
        # keras.layers.LSTM does), else `dtype="float64"` returns float32.
        for key in ("dtype", "trainable"):
            if key in kwargs:
                layer_kwargs[key] = kwargs[key]
        cell = self.cell_class(
            units,
            dtype=kwargs.pop("dtype", None),
            trainable=kwargs.pop("trainable", True),
            name=_snake_case(self.cell_class.__name__),
            **kwargs,
        )
        super().__init__(cell, **layer_kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=3)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if tree.is_nested(mask):
            mask = mask[0]
        cell = self.cell
        if training and cell.dropout:
            # One input mask per sequence, as keras.layers.LSTM; before the fast
            # path too, which takes the inputs as cuDNN sees them.
            sequences = sequences * ops.expand_dims(
                cell.get_dropout_mask(sequences[:, 0, :]), 1
            )
        fast = self.fast_inner_loop(sequences, initial_state, mask, training)
        if fast is not None:
            return fast
        # The input projection W x runs in the loop, per step: measured with
        # `lstmsuite bench layers` on a CPU, one large matmul for the whole sequence
        # before the loop was slower on TensorFlow (1.06-1.21x: its executor
        # overlaps x W with the recurrent h U) and on JAX (training 1.1-1.3x,
        # inference 1.2-2x); both avoid a (batch, time, 4 units) tensor and its
        # gradient this way.
        split = _split_batch(sequences, training, self.unroll)
        rows = sequences.shape[0]
        if split:  # two loops over the halves, of equal size if `rows` is even
            rows = rows // 2 if rows % 2 == 0 else None
        masks = cell.sequence_masks(
            initial_state[0], training, sequences.shape[1], rows=rows
        )
        sequences = cell.prepare_inputs(sequences, masks)

        # Zoneout draws a fresh mask per step: draw them all now and feed them to
        # the loop as extra inputs beside x (`_LoopInputs`: the loop slices each one
        # per step without a concatenate/split, which cost ~20% in training), so
        # that the loop body has no random state.
        zoneout = {}
        if training:
            batch, time = ops.shape(sequences)[0], ops.shape(sequences)[1]
            for key, rate, width in (
                ("zoneout_cell", cell.zoneout_cell, cell.units),
                ("zoneout_hidden", cell.zoneout_hidden, cell.output_size),
            ):
                if rate:
                    zoneout[key] = cell._zoneout_mask((batch, time, width), rate)
        loop_inputs = _LoopInputs(sequences, zoneout) if zoneout else sequences

        def run(loop_inputs, states, masks, mask):
            def step(x_t, states):
                step_masks = masks
                if zoneout:
                    step_masks = masks._replace(**x_t.zoneout)
                    x_t = x_t.x
                # The input projection of step t waits for h(t-1), so that it
                # runs beside step t's recurrent matmul instead of competing with
                # the steps before it (TensorFlow, `lstmsuite bench layers`
                # shape, 2-core CPU, 2-3 models each: training 1-3% and
                # inference 2-9% faster for every cell).
                x_t = _after(x_t, states[0])
                z_t = cell.project_inputs(x_t, masks)
                return cell.step(z_t, list(states), step_masks)

            return keras_backend.rnn(
                step,
                loop_inputs,
                list(states),
                go_backwards=self.go_backwards,
                mask=mask,
                unroll=self.unroll,
                input_length=sequences.shape[1],
                zero_output_for_mask=self.zero_output_for_mask,
                return_all_outputs=self.return_sequences,
            )

        if not split:
            return run(loop_inputs, initial_state, masks, mask)
        # Two independent loops over the two halves of the batch (see
        # `_split_batch`), joined back in order. Only in inference, where `masks`
        # holds no per-row tensors (no dropout masks; zoneout as rates).
        half = sequences.shape[0] // 2
        runs = [
            run(
                tree.map_structure(lambda t, rows=rows: t[rows], loop_inputs),
                [state[rows] for state in initial_state],
                masks,
                None if mask is None else mask[rows],
            )
            for rows in (slice(None, half), slice(half, None))
        ]
        (last_a, outputs_a, states_a), (last_b, outputs_b, states_b) = runs
        return (
            ops.concatenate([last_a, last_b], axis=0),
            ops.concatenate([outputs_a, outputs_b], axis=0),
            [ops.concatenate(pair, axis=0) for pair in zip(states_a, states_b)],
        )

    def fast_inner_loop(self, sequences, initial_state, mask, training):
        """Hook for a backend kernel (cuDNN); returns None to use the generic loop.

        `sequences` already carry the input dropout."""
        return None

    def get_config(self):
        config = super().get_config()
        cell_config = dict(config.pop("cell")["config"])
        for key in _BASE_CONFIG_KEYS:
            cell_config.pop(key, None)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def check_use_cudnn(value):
    if value not in ("auto", True, False):
        raise ValueError(
            "Argument `use_cudnn` must be one of 'auto', True, False. "
            f"Received: use_cudnn={value!r}"
        )
    return value


def cudnn_inner_loop(
    layer, kernel_fn, compatible, sequences, initial_state, mask, training, **kwargs
):
    """Runs `layer` on Keras's cuDNN kernel, or returns None for the generic loop.

    `sequences` already carry the input dropout (`RecurrentLayer.inner_loop`).

    `kernel_fn` is `keras_internals.keras_backend.lstm` or `gru`, which raises
    NotImplementedError off a GPU or for arguments cuDNN cannot take (activations,
    no bias, `unroll`); `compatible` says whether the cell's own options (recurrent
    dropout, zoneout, clipping) allow it. With `layer.use_cudnn=True` a fallback is
    an error, as in `keras.layers.LSTM`.
    """
    if layer.use_cudnn is False:
        return None
    if not compatible:
        if layer.use_cudnn is True:
            raise ValueError(
                "use_cudnn=True, but cuDNN does not compute recurrent dropout, "
                "zoneout or cell clipping. Use use_cudnn='auto'."
            )
        return None
    if keras.backend.backend() == "jax" and not _jax_on_gpu():
        # Off a GPU, Keras's JAX `gru` is no cuDNN kernel but a scan after one
        # input matmul for the whole sequence: on a CPU our loop is faster (bench,
        # B=64: 31 vs 55 ms inference).
        return _without_cudnn(layer)
    cell = layer.cell
    try:
        result = kernel_fn(
            sequences,
            *initial_state,
            mask,
            kernel=cell.kernel,
            recurrent_kernel=cell.recurrent_kernel,
            bias=cell.bias,
            activation=cell.activation,
            recurrent_activation=cell.recurrent_activation,
            return_sequences=layer.return_sequences,
            go_backwards=layer.go_backwards,
            unroll=layer.unroll,
            **kwargs,
        )
    except NotImplementedError:
        result = None
    if result is None:  # outside the except, so an error raised has no context
        return _without_cudnn(layer)
    if keras.backend.backend() == "tensorflow":
        layer.supports_jit = False  # cuDNN ops are not XLA-compatible
    return result


def _without_cudnn(layer):
    """None (the generic loop), or the error `use_cudnn=True` asks for."""
    if layer.use_cudnn is True:
        raise ValueError(
            "use_cudnn=True, but cuDNN is not available for this configuration "
            "and backend. Use use_cudnn='auto'."
        )
    return None


def jax_platform() -> str:
    """What JAX computes on: "cpu", "gpu" or "tpu". The layers pick their kernels
    by it (cuDNN here, the log-space scan in `linear_scan`); JAX names a GPU
    "gpu", or by its toolkit ("cuda", "rocm") in some builds."""
    import jax

    platform = jax.default_backend()
    return "gpu" if platform in ("cuda", "rocm") else platform


def _jax_on_gpu() -> bool:
    return jax_platform() == "gpu"


# Rows per half below which splitting the batch stops paying (2-core CPU: inference
# of B=2 was no faster split, B=4 slightly, B=8 1.6x).
_MIN_SPLIT_ROWS = 4


def _split_batch(sequences, training, unroll) -> bool:
    """Whether to run the loop as two independent loops over the batch halves.

    A step is a chain of small ops, and TensorFlow's executor runs each one only
    when the one before it is done: on a CPU, each element-wise op keeps one core
    busy while the others wait. Two loops over independent halves of the batch
    are two chains the executor runs side by side (`lstmsuite bench layers`,
    2-core CPU: `LSTM` inference 44 -> 29 ms, every cell 25-35% faster). Each row
    gets the same arithmetic; only matmul kernels may round the last bit
    differently for fewer rows.

    Only where it was measured to pay: in inference (in training the split was
    faster for some cells and slower for others), in graph mode (eager runs the
    two loops one after the other), on CPUs (on a GPU the ops already fill the
    device), outside XLA (which fuses the step itself; split was slower there),
    for a known batch of at least `2 * _MIN_SPLIT_ROWS`, and over more than one
    step.
    """
    if training or unroll or keras.backend.backend() != "tensorflow":
        return False
    batch, time_steps = sequences.shape[0], sequences.shape[1]
    if batch is None or batch < 2 * _MIN_SPLIT_ROWS or _cpu_count() < 2:
        return False
    if time_steps == 1:  # step-by-step decoding: measured 8% slower split
        return False
    import tensorflow as tf

    if tf.executing_eagerly() or tf.config.list_logical_devices("GPU"):
        return False
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # then we cannot tell if XLA compiles this: don't split
        return False
    return not control_flow_util.GraphOrParentsInXlaContext(
        tf.compat.v1.get_default_graph()
    )


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _snake_case(name: str) -> str:
    """`LSTMCell` -> `lstm_cell`, `PeepholeLSTMCell` -> `peephole_lstm_cell`."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()
