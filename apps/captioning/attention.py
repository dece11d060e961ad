"""`SoftAttentionRNN`: the Show, Attend and Tell decoder (Xu et al. 2015).

    lstmsuite train captioning --config configs/captioning/shapes.yaml \
        --set model.decoder=show_attend_tell

At every step t, with h the cell's previous output:

    e_l   = v . tanh(W_k m_l + W_q h)                 (additive attention, l = 1..L)
    a     = softmax(e) over the L locations           (masked locations get 0)
    ctx   = beta(h) * sum_l a_l m_l                   (beta: Xu et al.'s gating scalar)
    h, .. = cell([x_t ; ctx], states)                 (any cell of `layers/`)

and the layer returns `[h ; ctx]` at every step (what the word classifier reads),
the attention weights `a` (B, T, L) (for the attention maps of `predict`), and the
final states, so that generation can run it one step at a time from given states.

The recurrence is the cell's own `step` from `layers/` (its kernels, gates, clipping,
recurrent dropout); only the input changes with the attention, so the input
projection runs per step rather than once per sequence. Dropout masks are drawn once
before the loop (variational, as in `layers/`); zoneout is not supported here.
"""

from __future__ import annotations

import keras
from keras import ops

from lstmsuite.layers import get_layer_class
from lstmsuite.layers.keras_internals import keras_backend

NEG_INF = -1e9


@keras.saving.register_keras_serializable(package="lstmsuite")
class SoftAttentionRNN(keras.layers.Layer):
    """A recurrent cell from `layers/` with soft attention over a memory.

    Args:
        units: width of the cell.
        cell: a name of `lstmsuite.layers.CELLS` (lstm, gru, layernorm, ...).
        attention_units: width of the additive attention's hidden layer.
        gate: multiply the context by a learned sigmoid of h (Xu et al. 4.2.1).
        seed: dropout seed.
        **cell_kwargs: the cell's own arguments (dropout, recurrent_dropout, ...).

    Call arguments:
        inputs: (B, T, E) embedded input tokens.
        memory: (B, L, D) the feature map, one row per image location.
        initial_state: list of the cell's states (B, size); zeros when None.
        memory_mask: optional bool (B, L): False locations are never attended.
        training: dropout on/off.

    Returns:
        `[outputs (B, T, units + D), attention (B, T, L), *final_states]`.
    """

    def __init__(
        self,
        units: int,
        cell: str = "lstm",
        attention_units: int = 128,
        gate: bool = True,
        seed: int | None = None,
        **kwargs,
    ):
        base = {k: kwargs.pop(k) for k in ("name", "dtype", "trainable") if k in kwargs}
        super().__init__(**base)
        for key in ("zoneout_cell", "zoneout_hidden"):
            if kwargs.get(key):
                raise ValueError(f"SoftAttentionRNN does not support {key}")
        self.units, self.cell_name = units, cell
        self.attention_units, self.gate, self.seed = attention_units, gate, seed
        self.cell_kwargs = kwargs
        cell_class = get_layer_class(cell).cell_class
        self.cell = cell_class(units, seed=seed, name="cell", **kwargs)
        self.key = keras.layers.Dense(attention_units, name="key")
        self.query = keras.layers.Dense(attention_units, use_bias=False, name="query")
        self.score = keras.layers.Dense(1, use_bias=False, name="score")
        self.beta = (
            keras.layers.Dense(1, activation="sigmoid", name="beta") if gate else None
        )

    @property
    def state_size(self):
        return list(self.cell.state_size)

    def build(self, inputs_shape, memory_shape):
        width = memory_shape[-1]
        self.key.build(memory_shape)
        self.query.build((None, self.cell.output_size))
        self.score.build((None, None, self.attention_units))
        if self.beta is not None:
            self.beta.build((None, self.cell.output_size))
        self.cell.build((None, inputs_shape[-1] + width))
        self.built = True

    def attend(self, keys, memory, h, memory_mask=None):
        """(context (B, D), weights (B, L)) for the query h (B, units)."""
        energy = self.score(ops.tanh(keys + self.query(h)[:, None, :]))[..., 0]
        if memory_mask is not None:
            energy = ops.where(memory_mask, energy, NEG_INF)
        weights = ops.softmax(energy, axis=-1)
        context = ops.sum(weights[..., None] * memory, axis=1)
        if self.beta is not None:
            context = context * self.beta(h)
        return context, weights

    def call(self, inputs, memory, initial_state=None, memory_mask=None, training=None):
        cell = self.cell
        batch = ops.shape(inputs)[0]
        if initial_state is None:
            initial_state = cell.get_initial_state(batch)
        states = list(initial_state)
        keys = self.key(memory)
        width = memory.shape[-1]
        # Masks drawn once per sequence, before the loop: a random op inside the
        # loop body would draw a new mask every step.
        input_mask = None
        if training and cell.dropout:
            step_shape = (batch, inputs.shape[-1] + width)
            input_mask = cell.get_dropout_mask(ops.zeros(step_shape, inputs.dtype))
        masks = cell.sequence_masks(states[0], training, inputs.shape[1])

        def step(x_t, states):
            h = states[0]
            context, weights = self.attend(keys, memory, h, memory_mask)
            x = ops.concatenate([x_t, ops.cast(context, x_t.dtype)], axis=-1)
            if input_mask is not None:
                x = x * input_mask
            z = cell.project_inputs(cell.prepare_inputs(x, masks), masks)
            output, new_states = cell.step(z, list(states), masks)
            return ops.concatenate([output, context, weights], axis=-1), new_states

        _, outputs, final_states = keras_backend.rnn(
            step, inputs, states, input_length=inputs.shape[1]
        )
        cell.reset_dropout_mask()
        cell.reset_recurrent_dropout_mask()
        split = cell.output_size + width
        return [outputs[..., :split], outputs[..., split:], *final_states]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "cell": self.cell_name,
            "attention_units": self.attention_units,
            "gate": self.gate,
            "seed": self.seed,
            **self.cell_kwargs,
        }
