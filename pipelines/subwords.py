"""Subword tokenization: SentencePiece, learned from the training data (translation,
text generation).

    python -m pytest tests/pipelines/test_subwords.py

`train_sentencepiece(lines, vocab_size)` learns a unigram (or BPE) model from the
training sentences of one language and returns its serialized bytes; `Tokenizer`
is a Keras layer that runs that model *inside the TensorFlow graph* (tensorflow-text's
SentencePiece ops), so that tokenization is part of the saved model: a `.keras` file
or an exported SavedModel takes raw strings and gives raw strings, with no Python
tokenizer to ship beside it.

Unseen input never raises: the model is trained with `byte_fallback`, so a character
that was not in the training text (an emoji, another script) becomes its UTF-8 bytes
(256 reserved pieces) and detokenizes back to itself. Ids 0..3 are reserved:
`PAD=0` (also the Keras mask value), `UNK=1`, `BOS=2`, `EOS=3`.

The model bytes travel with the layer as a Keras *asset* (`sentencepiece.model`
inside the `.keras` archive), not in the JSON config, which stays small.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import keras
import tensorflow as tf

PAD, UNK, BOS, EOS = 0, 1, 2, 3
ASSET_NAME = "sentencepiece.model"


def train_sentencepiece(
    lines: Iterable[str],
    vocab_size: int,
    model_type: str = "unigram",
    keep_whitespace: bool = False,
) -> bytes:
    """Learns a SentencePiece model from `lines`; returns the serialized model.

    `vocab_size` counts everything: the 4 reserved ids and the 256 byte pieces of the
    byte fallback included. A size too small to hold every character of the text
    is raised to that minimum, and too large a size for a small corpus is lowered to
    what the text supports (`hard_vocab_limit=False`), rather than failing.
    """
    import sentencepiece as spm

    lines = [line for line in lines if line.strip()]
    if not lines:
        raise ValueError("cannot learn a subword vocabulary from no text")
    # Every distinct character gets a piece, plus the reserved and the byte pieces.
    needed = len(set("".join(lines))) + 4 + 256 + 8
    layout = {}
    if keep_whitespace:
        layout = dict(
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            user_defined_symbols=["\n"],
        )
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=max(vocab_size, needed),
        model_type=model_type,
        byte_fallback=True,
        character_coverage=1.0,
        hard_vocab_limit=False,
        pad_id=PAD,
        unk_id=UNK,
        bos_id=BOS,
        eos_id=EOS,
        num_threads=2,
        minloglevel=2,
        **layout,
    )
    return model.getvalue()


@keras.saving.register_keras_serializable(package="lstmsuite")
class Tokenizer(keras.layers.Layer):
    """Strings <-> subword ids in the graph.

    Args:
        vocab_size: the size of the SentencePiece vocabulary (kept in the config so
            that a model can be rebuilt before its assets are loaded).
        model: the serialized SentencePiece model (bytes); None when the layer is
            being restored from a `.keras` file, which supplies it as an asset.
    """

    def __init__(self, vocab_size: int, model: bytes | None = None, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self._model: bytes | None = None
        self._sp = None
        if model is not None:
            self.set_model(model)

    # -------------------------------------------------------------------- model bytes
    def set_model(self, model: bytes) -> None:
        import tensorflow_text as tf_text  # registers the SentencePiece ops

        self._model = bytes(model)
        # A distinct name per layer: the op's kernel-owned resource is shared by node
        # name, so in a restored SavedModel two unnamed tokenizers would collide.
        self._sp = tf_text.SentencepieceTokenizer(
            model=self._model, out_type=tf.int32, name=f"{self.name}_sentencepiece"
        )
        size = int(self._sp.vocab_size())
        if size != self.vocab_size:
            raise ValueError(
                f"tokenizer {self.name}: the SentencePiece model has {size} pieces, "
                f"the layer was built for {self.vocab_size}"
            )

    @property
    def model_bytes(self) -> bytes:
        if self._model is None:
            raise RuntimeError(f"tokenizer {self.name} has no SentencePiece model yet")
        return self._model

    @classmethod
    def from_model(cls, model: bytes, **kwargs) -> Tokenizer:
        """A tokenizer for serialized SentencePiece bytes, sized from the model."""
        import sentencepiece as spm

        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(bytes(model))
        except RuntimeError as e:
            raise ValueError(f"not a SentencePiece model ({e})") from None
        return cls(processor.GetPieceSize(), model, **kwargs)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> Tokenizer:
        try:
            return cls.from_model(Path(path).read_bytes(), **kwargs)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    # Keras saving: the model bytes are a file in the archive's assets.
    def save_assets(self, dir_path):
        Path(dir_path, ASSET_NAME).write_bytes(self.model_bytes)

    def load_assets(self, dir_path):
        self.set_model(Path(dir_path, ASSET_NAME).read_bytes())

    # -------------------------------------------------------------------- operations
    def tokenize(self, strings) -> tf.RaggedTensor:
        """(B,) strings -> ragged (B, None) int32 ids, no BOS/EOS."""
        if self._sp is None:
            self.model_bytes  # noqa: B018 -- raises the clear error
        return self._sp.tokenize(tf.convert_to_tensor(strings, tf.string))

    def detokenize(self, ids) -> tf.Tensor:
        """(B, T) ids (dense or ragged) -> (B,) strings. Everything from the first
        EOS on is cut, and PAD/BOS are dropped, so raw decoder output can be passed."""
        ids = tf.convert_to_tensor(ids) if not isinstance(ids, tf.RaggedTensor) else ids
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.cast(ids, tf.int32)
            # Length up to (not including) the first EOS of each row.
            is_end = tf.cast(tf.equal(ids, EOS), tf.int32)
            lengths = tf.reduce_sum(1 - tf.minimum(tf.cumsum(is_end, axis=1), 1), 1)
            ids = tf.RaggedTensor.from_tensor(ids, lengths=lengths)
        keep = tf.ragged.map_flat_values(lambda v: v > BOS, ids)
        ids = tf.ragged.boolean_mask(tf.cast(ids, tf.int32), keep)
        return self._sp.detokenize(ids)

    def id_to_piece(self, ids) -> tf.Tensor:
        return self._sp.id_to_string(tf.convert_to_tensor(ids, tf.int32))

    def call(self, strings):
        """Strings -> dense (B, T) ids padded with PAD (the Keras-layer view)."""
        return self.tokenize(strings).to_tensor(default_value=PAD)

    def compute_output_spec(self, strings):
        return keras.KerasTensor((strings.shape[0], None), dtype="int32")

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}
