"""The RNN-NADE output: a distribution over whole frames, not 88 independent keys.

    lstmsuite train music --config configs/music/jsb_nade.yaml

A chord is not 88 independent coin flips: given C and E, G is likely and F sharp is
not. A NADE (Larochelle and Murray 2011) factorizes the frame autoregressively over
its keys, low to high,

    p(v) = prod_d p(v_d | v_<d),
    h_d = sigmoid(b_h + W[:d]^T v_<d),          (one hidden layer per key,
    p(v_d = 1 | v_<d) = sigmoid(b_v[d] + V[:, d] . h_d)     sharing W and V)

and RNN-NADE (Boulanger-Lewandowski et al. 2012, "Modeling Temporal Dependencies
in High-Dimensional Sequences", section 4) lets the recurrent state at each time
step give the NADE's biases b_v and b_h, so the chord is conditioned on the music
so far.

Because W is shared, the pre-activations of all 88 hidden layers are sums of W's
rows over the keys below (one masked matmul, or an exclusive cumulative sum), so
the exact log-likelihood of a known frame takes one vectorized pass with no loop
over keys (`NADE.call`). Sampling a new frame has to
go key by key (each key needs the ones below it); that is
`lstmsuite.pipelines.decoding.NADE`, which reads the weights of this layer.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="lstmsuite")
class NADE(keras.layers.Layer):
    """A NADE over binary frames whose biases come from a context vector (RNN-NADE).

    Given the recurrent stack's output at each step (the context) and the frame that
    follows it, returns `p(v_d = 1 | v_<d, context)` for every key `d`: the NADE's
    conditionals under teacher forcing. The summed binary cross-entropy of these
    conditionals against the frame is exactly `-log p(frame | context)`, so the
    music app's `FrameNLL` loss and metrics apply unchanged.

    Args:
        num_visible: keys per frame (88 for the piano).
        hidden_units: width of the NADE's hidden layer (Boulanger-Lewandowski et al.
            used 150).
        kernel_initializer: for the shared input and output weights `W`, `V`.
        context_initializer: for the maps from the context to the biases.

    Call arguments:
        inputs: a list `[context, frames]`: context (..., C) and frames (..., 88)
            in {0, 1}, with the same leading shape.

    Returns:
        (..., num_visible) conditional on-probabilities.

    Example:

    >>> import numpy as np
    >>> layer = NADE(num_visible=4, hidden_units=3)
    >>> probs = layer([np.zeros((2, 5, 8)), np.ones((2, 5, 4))])
    >>> tuple(probs.shape)
    (2, 5, 4)

    Reference: Boulanger-Lewandowski, Bengio and Vincent 2012,
    https://arxiv.org/abs/1206.6392; Larochelle and Murray 2011, "The Neural
    Autoregressive Distribution Estimator".
    """

    def __init__(
        self,
        num_visible: int = 88,
        hidden_units: int = 150,
        kernel_initializer="glorot_uniform",
        context_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        sizes = {"num_visible": num_visible, "hidden_units": hidden_units}
        for name, value in sizes.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a "
                    f"positive integer, got {value!r}."
                )
        self.num_visible = num_visible
        self.hidden_units = hidden_units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.context_initializer = keras.initializers.get(context_initializer)

    def build(self, input_shape):
        context_shape, frames_shape = input_shape
        if frames_shape[-1] != self.num_visible:
            raise ValueError(
                f"NADE expects frames of {self.num_visible} units, got shape "
                f"{tuple(frames_shape)}"
            )
        context_dim = context_shape[-1]
        visible, hidden = self.num_visible, self.hidden_units
        # Context -> the biases of this step's NADE (the "RNN" half of RNN-NADE).
        self.visible_bias_kernel = self.add_weight(
            name="visible_bias_kernel",
            shape=(context_dim, visible),
            initializer=self.context_initializer,
        )
        self.visible_bias = self.add_weight(
            name="visible_bias", shape=(visible,), initializer="zeros"
        )
        self.hidden_bias_kernel = self.add_weight(
            name="hidden_bias_kernel",
            shape=(context_dim, hidden),
            initializer=self.context_initializer,
        )
        self.hidden_bias = self.add_weight(
            name="hidden_bias", shape=(hidden,), initializer="zeros"
        )
        # The NADE itself: key d feeds every later key's hidden layer through W[d]
        # and reads its own through V[:, d].
        self.input_kernel = self.add_weight(
            name="input_kernel",
            shape=(visible, hidden),
            initializer=self.kernel_initializer,
        )
        self.output_kernel = self.add_weight(
            name="output_kernel",
            shape=(hidden, visible),
            initializer=self.kernel_initializer,
        )

    def conditioning(self, context):
        """(visible biases (..., 88), hidden biases (..., H)) for a context."""
        b_v = ops.matmul(context, self.visible_bias_kernel) + self.visible_bias
        b_h = ops.matmul(context, self.hidden_bias_kernel) + self.hidden_bias
        return b_v, b_h

    def logits(self, inputs):
        """The conditionals' logits, (..., 88); see the class docstring."""
        context, frames = inputs
        frames = ops.cast(frames, self.compute_dtype)
        b_v, b_h = self.conditioning(context)
        # a_d = b_h + sum_{j<d} v_j W[j] for all 88 hidden layers at once: the
        # frame under a strictly lower-triangular mask, (..., 88, 88), times W.
        # One matmul measured faster than an exclusive cumsum of v_j W[j] over the
        # keys (which is memory-bound on a (..., 88, H) tensor), forward and back.
        below = ops.tril(ops.ones((self.num_visible,) * 2, self.compute_dtype), k=-1)
        before = ops.matmul(frames[..., None, :] * below, self.input_kernel)
        hidden = ops.sigmoid(b_h[..., None, :] + before)
        return b_v + ops.sum(hidden * ops.transpose(self.output_kernel), axis=-1)

    def call(self, inputs):
        return ops.sigmoid(self.logits(inputs))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1])

    def get_config(self):
        config = super().get_config()
        config.update(
            num_visible=self.num_visible,
            hidden_units=self.hidden_units,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            context_initializer=keras.initializers.serialize(self.context_initializer),
        )
        return config

    def distribution(self):
        """The NumPy sampler (`lstmsuite.pipelines.decoding.NADE`) for these weights."""
        from lstmsuite.pipelines import decoding

        return decoding.NADE(
            ops.convert_to_numpy(self.input_kernel),
            ops.convert_to_numpy(self.output_kernel),
        )

    def scores(self, context):
        """A decoding step's scores for a context (B, C): [b_v, b_h], (B, 88 + H)."""
        b_v, b_h = self.conditioning(ops.convert_to_tensor(context, self.compute_dtype))
        return ops.convert_to_numpy(ops.concatenate([b_v, b_h], axis=-1))
