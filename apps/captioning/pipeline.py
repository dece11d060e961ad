"""tf.data pipelines of the captioning app: images and captions -> padded batches.

    lstmsuite train captioning --config configs/captioning/shapes.yaml

Training batches are `({"image": (B, S, S, 3) float32, "tokens": (B, T) int32},
targets (B, T) int32, weights (B, T) float32)`: `tokens` is `<start> w1 .. wn` and
`targets` is `w1 .. wn <end>`, padded per batch (or per length bucket) with id 0 and
weight 0. With cached encoder features, "image" is replaced by "features" (h, w, D).

The stages, all inside tf.data (the shared ones from `lstmsuite.pipelines.data`):

    image index -> load (read + decode + resize, or gather from an in-memory array)
    -> cache (decoded uint8 pixels) -> shuffle (per image) -> captions (training:
    one reference drawn at random per image and epoch; otherwise every reference)
    -> example (normalize for the encoder, add start/end) -> pad or bucket -> prefetch

Drawing one reference per image and epoch (`data.caption_sampling: random`) keeps an
epoch at one encoder pass per image; `all` makes one example per (image, caption).
Captions are tokenized once when the data are loaded (`CaptionTokens`), not per
epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from lstmsuite.apps.captioning.data import CaptionSplit
from lstmsuite.apps.captioning.tokenizer import END, START, CaptionTokenizer
from lstmsuite.pipelines import data as stages

Normalize = Callable[[tf.Tensor], tf.Tensor]


@dataclass
class CaptionTokens:
    """Every caption of a split as one flat id buffer plus offsets.

    Caption k is `flat[start[k] : start[k] + length[k]]`; image i owns captions
    `first[i] .. first[i] + count[i] - 1`.
    """

    flat: np.ndarray
    start: np.ndarray
    length: np.ndarray
    first: np.ndarray
    count: np.ndarray

    @classmethod
    def encode(
        cls, split: CaptionSplit, tokenizer: CaptionTokenizer, max_words: int | None
    ) -> CaptionTokens:
        encoded = [
            [tokenizer.encode(c, max_words) for c in refs] for refs in split.captions
        ]
        count = np.array([len(refs) for refs in encoded], dtype=np.int64)
        captions = [c for refs in encoded for c in refs]
        length = np.array([len(c) for c in captions], dtype=np.int64)
        return cls(
            flat=np.array([t for c in captions for t in c], dtype=np.int32),
            start=np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64),
            length=length,
            first=np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64),
            count=count,
        )


def decode_image(data: tf.Tensor, size: int) -> tf.Tensor:
    """Encoded JPEG/PNG/GIF/BMP bytes -> (size, size, 3) uint8, area-resized."""
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return resize(image, size)


def resize(image: tf.Tensor, size: int) -> tf.Tensor:
    resized = tf.image.resize(image, [size, size], antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def image_source(images, size: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """index -> (size, size, 3) uint8 for a split's `images` (paths, bytes or array)."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, 3), got {images.shape}")
        table = tf.constant(images)
        same = images.shape[1:3] == (size, size)
        return lambda i: (
            tf.gather(table, i) if same else resize(tf.gather(table, i), size)
        )
    if not len(images):
        raise ValueError("no images to build a dataset from")
    table = tf.constant(list(images))
    if isinstance(images[0], bytes):
        return lambda i: decode_image(tf.gather(table, i), size)

    def load_file(i):
        path = tf.gather(table, i)
        data = tf.io.read_file(path)
        return decode_image(check_image_format(data, path), size)

    return load_file


# The formats tf.io.decode_image reads, by their first bytes.
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM")


def check_image_format(data: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
    """`data`, once it starts like a JPEG, PNG, GIF or BMP file; else the pipeline
    stops with an error naming `path` (TF's own decode error names no file, and in
    a tf.data pipeline of thousands of images that leaves the user guessing).

    The file sources already check every image when the data load and skip the
    unreadable ones (`data.check_image`), so this only fires for a file that changed
    on disk since, or for paths given here directly."""
    known = tf.reduce_any(
        [tf.equal(tf.strings.substr(data, 0, len(m)), m) for m in IMAGE_MAGIC]
    )
    message = tf.strings.join([path, ": not a JPEG, PNG, GIF or BMP image file"])
    with tf.control_dependencies([tf.debugging.Assert(known, [message])]):
        return tf.identity(data)


def image_dataset(images, size: int) -> tf.data.Dataset:
    """(index, uint8 image) for every image of a split, in order."""
    load = image_source(images, size)
    indices = tf.data.Dataset.range(len(images))
    return stages.parallel_map(lambda i: (i, load(i)))(indices)


def caption_pipeline(
    split: CaptionSplit,
    tokens: CaptionTokens,
    data_cfg,
    *,
    training: bool,
    seed: int,
    normalize: Normalize,
    features: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Batched (inputs, targets, weights) for training or validation.

    Args:
        split: the images (and, for the record, their captions).
        tokens: the split's captions as ids (`CaptionTokens.encode`).
        data_cfg: image_size, batch_size, shuffle_buffer, cache, bucket_boundaries,
            caption_sampling.
        training: shuffle and draw one reference per image (when caption_sampling
            is random); otherwise every caption, in order.
        seed: the config's seed.
        normalize: uint8 pixels -> encoder input (ignored with `features`).
        features: cached encoder outputs (N, h, w, D), used instead of the images.
    """
    if features is not None:
        table = tf.constant(features)
        key = "features"
        ds = tf.data.Dataset.range(len(features)).map(
            lambda i: (i, tf.gather(table, i))
        )
    else:
        key = "image"
        ds = image_dataset(split.images, data_cfg.image_size)
        ds = stages.cache(data_cfg.cache)(ds)
    if training:
        ds = stages.shuffle(data_cfg.shuffle_buffer, seed)(ds)

    flat = tf.constant(tokens.flat)
    start, length = tf.constant(tokens.start), tf.constant(tokens.length)
    first, count = tf.constant(tokens.first), tf.constant(tokens.count)

    def example(pixels, caption):
        words = flat[start[caption] : start[caption] + length[caption]]
        inputs = tf.concat([[START], words], axis=0)
        targets = tf.concat([words, [END]], axis=0)
        if key == "image":
            pixels = normalize(tf.cast(pixels, tf.float32))
        else:
            pixels = tf.cast(pixels, tf.float32)
        weights = tf.ones(tf.shape(targets), tf.float32)
        return {key: pixels, "tokens": inputs}, targets, weights

    if training and data_cfg.caption_sampling == "random":
        randoms = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True)

        def pick(element, r):
            i, pixels = element
            caption = first[i] + tf.math.floormod(tf.abs(r), count[i])
            return pixels, caption

        ds = tf.data.Dataset.zip((ds, randoms)).map(pick)
    else:

        def every_caption(i, pixels):
            captions = tf.data.Dataset.range(first[i], first[i] + count[i])
            return captions.map(lambda c: (pixels, c))

        ds = ds.flat_map(every_caption)
        if training:  # else a batch would hold runs of one image's captions
            ds = stages.shuffle(data_cfg.shuffle_buffer, seed + 2)(ds)
    ds = stages.parallel_map(example)(ds)
    if data_cfg.bucket_boundaries:
        ds = stages.bucket_batch(
            data_cfg.batch_size,
            data_cfg.bucket_boundaries,
            length_fn=lambda inputs, targets, weights: tf.shape(targets)[0],
        )(ds)
    else:
        ds = stages.pad_batch(data_cfg.batch_size)(ds)
        if ds.cardinality() == tf.data.UNKNOWN_CARDINALITY:
            # flat_map hides the count; Keras needs it to know an epoch's steps.
            examples = int(tokens.count.sum())
            batches = -(-examples // data_cfg.batch_size)
            ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
    return stages.apply(ds, [stages.shard_by_data(), stages.prefetch()])


def image_batches(images, size: int, batch_size: int, normalize: Normalize):
    """Normalized image batches of a split, in order (evaluation, prediction)."""
    ds = image_dataset(images, size).map(lambda i, x: normalize(tf.cast(x, tf.float32)))
    return ds.batch(batch_size).prefetch(stages.AUTOTUNE)


def load_image_files(paths: list[str], size: int) -> np.ndarray:
    """Image files -> (N, size, size, 3) uint8, each error naming its file."""
    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for k, path in enumerate(paths):
        try:
            data = tf.io.read_file(path)
            out[k] = decode_image(data, size).numpy()
        except (tf.errors.NotFoundError, FileNotFoundError):
            raise FileNotFoundError(f"{path}: image file not found") from None
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(f"{path}: not a readable image ({e.message})") from None
    return out
