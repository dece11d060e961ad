"""Synthetic handwritten digit lines, composed inside tf.data from single-digit images.

    lstmsuite train handwriting --config configs/handwriting/digits_lines.yaml

A line is 1 to 10 digit images ("glyphs", 28x28, ink = 1) taken from a bank, each
scaled, sheared, rotated and shifted up or down a little, cropped to its ink and
placed left to right with a random gap (negative gaps make digits touch or overlap),
then noise is added. Everything is a TensorFlow op on a per-line seed, so:

- training lines are new every epoch (the seeds come from `Dataset.random`, which
  draws new numbers each epoch but the same sequence for the same config seed);
- validation and test lines use each glyph of their bank exactly once, in a seeded
  order, with seeds fixed per line: the same lines on every run.

`digits_glyphs` turns scikit-learn's 8x8 digits into 28x28 glyphs and
`lstmsuite.pipelines.mnist.read_mnist` reads `mnist.npz`; the `digits_lines` and
`mnist_lines` data sources (data.py) split the banks and hand them to
`SyntheticLines`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

GLYPH = 28  # glyph canvas size, the MNIST convention (digit in a 20x20 box)


@dataclass
class LineStyle:
    """How lines are drawn. Ranges are (low, high), sampled uniformly per glyph
    (gaps: per junction, noise: per line). Set through `data.options.style`."""

    min_digits: int = 1
    max_digits: int = 10
    scale: tuple[float, float] = (0.8, 1.1)
    shear: tuple[float, float] = (-0.3, 0.3)  # x += shear * y
    rotation: tuple[float, float] = (-8.0, 8.0)  # degrees
    shift_y: tuple[float, float] = (-2.0, 2.0)  # pixels
    gap: tuple[int, int] = (-2, 8)  # pixels between the ink of two glyphs
    margin: tuple[int, int] = (0, 6)  # blank pixels before and after the line
    noise: tuple[float, float] = (0.0, 0.1)  # std of Gaussian pixel noise

    @classmethod
    def from_options(cls, options: dict | None) -> LineStyle:
        options = dict(options or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(
                f"unknown line style option(s) {unknown}; known: {sorted(known)}"
            )
        style = cls(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
        )
        if not 1 <= style.min_digits <= style.max_digits:
            raise ValueError(
                f"style: need 1 <= min_digits <= max_digits, got "
                f"{style.min_digits}, {style.max_digits}"
            )
        return style


@dataclass
class SyntheticLines:
    """One split of digit lines drawn from a glyph bank.

    Args:
        glyphs: (N, 28, 28) uint8, ink bright on a dark background.
        labels: (N,) the digit of each glyph.
        lines: how many lines an epoch has (training) or None: as many as it takes
            to use every glyph `passes` times (validation, test).
        fixed: the same lines every epoch (validation, test) or new ones (training).
        passes: fixed splits draw every glyph this many times, in different lines.
        seed: seeds the order of glyphs and the style of every line.
    """

    glyphs: np.ndarray
    labels: np.ndarray
    lines: int | None = None
    fixed: bool = True
    passes: int = 1
    seed: int = 0
    style: LineStyle = field(default_factory=LineStyle)

    def __post_init__(self):
        if len(self.glyphs) == 0:
            raise ValueError("no digit images to compose lines from")
        self._plan = self._fixed_plan() if self.fixed else None

    def charset(self) -> set[str]:
        return {str(int(label)) for label in np.unique(self.labels)}

    def __len__(self) -> int:
        return len(self._plan[1]) - 1 if self.fixed else int(self.lines or 0)

    @property
    def names(self) -> list[str]:
        return [f"line {i}" for i in range(len(self))]

    def transcriptions(self) -> list[str] | None:
        """The transcriptions of a fixed split, in order; None for training."""
        if not self.fixed:
            return None
        order, splits = self._plan
        digits = self.labels[order].astype(str)
        return ["".join(digits[a:b]) for a, b in zip(splits[:-1], splits[1:])]

    def _fixed_plan(self):
        """A seeded permutation of the bank cut into lines of random length; capped
        at `lines` lines when given."""
        rng = np.random.default_rng(self.seed)
        size = len(self.glyphs)
        order = np.concatenate([rng.permutation(size) for _ in range(self.passes)])
        lo, hi = self.style.min_digits, self.style.max_digits
        sizes = rng.integers(lo, hi + 1, size=len(order) // lo + 1)
        splits = np.concatenate([[0], np.cumsum(sizes)])
        splits = np.minimum(
            splits[: np.searchsorted(splits, len(order)) + 1], len(order)
        )
        if self.lines is not None:
            splits = splits[: self.lines + 1]
        return order, splits

    def dataset(self) -> tf.data.Dataset:
        """Elements `(image (28, W) float32 in [0, 1], text tf.string)`."""
        glyphs = tf.constant(self.glyphs)
        labels = tf.constant(self.labels.astype(np.int64))
        style = self.style
        if self.fixed:
            order, splits = self._plan
            plan = tf.RaggedTensor.from_row_splits(order[: splits[-1]], splits)
            seeds = np.stack(
                [np.full(len(splits) - 1, self.seed), np.arange(len(splits) - 1)], 1
            )
            ds = tf.data.Dataset.from_tensor_slices((plan, seeds))
        else:
            lo, hi, size = style.min_digits, style.max_digits, len(self.glyphs)

            def random_plan(r):
                seed = tf.stack([r, tf.constant(1, tf.int64)])
                n = tf.random.stateless_uniform([], seed, lo, hi + 1, tf.int32)
                picks = tf.random.stateless_uniform(
                    [n], seed + [0, 1], 0, size, tf.int32
                )
                return tf.cast(picks, tf.int64), seed + [0, 2]

            rand = tf.data.Dataset.random(
                seed=self.seed, rerandomize_each_iteration=True
            )
            ds = rand.take(int(self.lines or 0)).map(random_plan)

        def draw(indices, seed):
            image = compose_line(tf.gather(glyphs, indices), seed, style)
            text = tf.strings.reduce_join(
                tf.strings.as_string(tf.gather(labels, indices))
            )
            return image, text

        return ds.map(draw, num_parallel_calls=tf.data.AUTOTUNE)


def compose_line(glyphs, seed, style: LineStyle):
    """(n, 28, 28) uint8 glyphs -> one line image (28, W) float32 in [0, 1].

    Vectorized over the n glyphs: one batched affine warp, then every glyph is
    placed by a one-hot shift matrix (n, 28, W) and the line is their clipped sum
    (overlapping strokes just add ink).
    """
    n = tf.shape(glyphs)[0]
    seed = tf.cast(seed, tf.int64)

    def uniform(shape, bounds, k, dtype=tf.float32):
        lo, hi = bounds
        if dtype.is_integer:
            return tf.random.stateless_uniform(shape, seed + [0, k], lo, hi + 1, dtype)
        return tf.random.stateless_uniform(shape, seed + [0, k], lo, hi, dtype)

    images = tf.cast(glyphs, tf.float32)[..., None] / 255.0
    scale = uniform([n], style.scale, 10)
    shear = uniform([n], style.shear, 11)
    angle = uniform([n], style.rotation, 12) * (math.pi / 180.0)
    shift = uniform([n], style.shift_y, 13)
    images = tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=_inverse_affine(scale, shear, angle, shift),
        output_shape=[GLYPH, GLYPH],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )[..., 0]

    # Each glyph's ink columns [left, right); an empty glyph keeps its whole box.
    ink = tf.reduce_max(images, axis=1) > 0.2  # (n, 28)
    has_ink = tf.reduce_any(ink, axis=1)
    left = tf.where(has_ink, tf.argmax(tf.cast(ink, tf.int32), 1, tf.int32), 0)
    right = tf.where(
        has_ink, GLYPH - tf.argmax(tf.cast(ink[:, ::-1], tf.int32), 1, tf.int32), GLYPH
    )
    widths = right - left
    gaps = tf.concat([[0], uniform([n - 1], style.gap, 14, tf.int32)], 0)
    margins = uniform([2], style.margin, 15, tf.int32)
    # Start of glyph k's ink: left margin + widths and gaps before it (never
    # before the previous glyph's start, so a large negative gap cannot reorder).
    steps = tf.maximum(tf.concat([[0], widths[:-1]], 0) + gaps, 1)
    starts = margins[0] + tf.cumsum(steps) - steps[0]
    total = tf.maximum(tf.reduce_max(starts + widths) + margins[1], 1)
    # Columns are placed on a canvas with a glyph's width of slack on either side,
    # so glyph columns left of the ink never land at a negative index.
    columns = (starts - left + GLYPH)[:, None] + tf.range(GLYPH)[None, :]
    place = tf.one_hot(columns, total + 2 * GLYPH, dtype=tf.float32)  # (n, 28, W')
    line = tf.einsum("nyx,nxw->yw", images, place)[:, GLYPH : GLYPH + total]
    noise = uniform([], style.noise, 16)
    line += noise * tf.random.stateless_normal(tf.shape(line), seed + [0, 17])
    return tf.clip_by_value(line, 0.0, 1.0)


def _inverse_affine(scale, shear, angle, shift):
    """ImageProjectiveTransform rows mapping output pixels to input pixels for
    "scale, shear, rotate about the glyph centre, then shift down by `shift`"."""
    c = (GLYPH - 1) / 2.0
    cos, sin = tf.cos(angle), tf.sin(angle)
    # Forward A = s * R(angle) @ [[1, shear], [0, 1]]; we need A^-1.
    a, b = scale * cos, scale * (cos * shear - sin)
    d, e = scale * sin, scale * (sin * shear + cos)
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    # input = A^-1 (out - c - (0, shift)) + c
    ox, oy = -c, -c - shift
    tx = ia * ox + ib * oy + c
    ty = id_ * ox + ie * oy + c
    zeros = tf.zeros_like(scale)
    return tf.stack([ia, ib, tx, id_, ie, ty, zeros, zeros], axis=1)


# ------------------------------------------------------------------------ glyph banks


def digits_glyphs() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 handwritten digits (UCI, 8x8, 17 grey levels) as 28x28
    glyphs: upsampled to a 20x20 box centred on the canvas, like MNIST."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = digits.images.astype(np.float32)[..., None] / 16.0  # (N, 8, 8, 1)
    box = tf.image.resize(small, [20, 20], method="bilinear").numpy()[..., 0]
    glyphs = np.zeros((len(box), GLYPH, GLYPH), np.float32)
    glyphs[:, 4:24, 4:24] = box
    return (np.clip(glyphs, 0, 1) * 255).round().astype(np.uint8), digits.target
