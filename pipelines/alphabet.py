"""The alphabet of a CTC recognizer: characters <-> label ids (0 is the blank).

Shared by the handwriting and speech apps.

    alphabet = Alphabet.build(["hello world", "42"])
    alphabet.encode("hello")            # [5, 4, 7, 7, 8]
    alphabet.save(run_dir / "alphabet.json"); Alphabet.load(...)

It is built from the training transcriptions (or given as `data.alphabet`) and saved
in the run directory by `train`, so `evaluate` and `predict` use exactly the labels
the model was trained with. Text is handled as Unicode code points; whitespace other
than a plain space is a character like any other.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

BLANK = 0


class Alphabet:
    """An ordered set of characters; character i has label id i + 1."""

    def __init__(self, chars: Iterable[str]):
        self.chars = list(dict.fromkeys(chars))  # unique, order kept
        for ch in self.chars:
            if len(ch) != 1:
                raise ValueError(f"alphabet entries must be single characters: {ch!r}")
        if not self.chars:
            raise ValueError("the alphabet is empty (no training transcriptions?)")
        self.ids = {ch: i + 1 for i, ch in enumerate(self.chars)}

    @classmethod
    def build(cls, texts: Iterable[str]) -> Alphabet:
        """Every character of `texts`, sorted by code point (stable across runs)."""
        return cls(sorted(set().union(*map(set, texts))))

    @property
    def num_classes(self) -> int:
        """Characters plus the blank: the width of the model's output."""
        return len(self.chars) + 1

    def unknown(self, text: str) -> set[str]:
        return {ch for ch in text if ch not in self.ids}

    def encode(self, text: str) -> list[int]:
        missing = self.unknown(text)
        if missing:
            raise ValueError(
                f"{text!r} has characters outside the alphabet: {_show(missing)}"
            )
        return [self.ids[ch] for ch in text]

    def decode(self, labels: Sequence[int] | np.ndarray) -> str:
        """Label ids -> text (blanks and out-of-range ids are ignored)."""
        return "".join(
            self.chars[i - 1] for i in map(int, labels) if 0 < i <= len(self.chars)
        )

    def save(self, path: str | Path) -> None:
        """Writes the alphabet atomically."""
        from lstmsuite.pipelines.contract import write_text

        data = {"blank": BLANK, "chars": self.chars}
        write_text(path, json.dumps(data, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Alphabet:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["chars"])
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: no alphabet; this run directory was not trained by a "
                "CTC recognizer (run `lstmsuite train APP` with it first)"
            ) from None
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a valid alphabet file ({e})") from None

    def lookup_table(self):
        """A tf.lookup table from one-character strings to ids (-1: unknown)."""
        import tensorflow as tf

        init = tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.chars), tf.constant(list(range(1, len(self.chars) + 1)))
        )
        return tf.lookup.StaticHashTable(init, default_value=-1)

    def __len__(self) -> int:
        return len(self.chars)

    def __eq__(self, other) -> bool:
        return isinstance(other, Alphabet) and self.chars == other.chars

    def __repr__(self) -> str:
        return f"Alphabet({''.join(self.chars)!r})"


def save_for_run(alphabet: Alphabet, path: str | Path) -> None:
    """Saves `alphabet` in a run directory; when the run already has one, it must
    be the same (a resumed run cannot change its output classes): a ConfigError
    otherwise."""
    from lstmsuite.pipelines.config import ConfigError

    path = Path(path)
    if path.exists():
        previous = Alphabet.load(path)
        if previous != alphabet:
            raise ConfigError(
                f"{path}: this run was trained with the alphabet "
                f"{''.join(previous.chars)!r} but the data now gives "
                f"{''.join(alphabet.chars)!r}; use a new --run-dir"
            )
        return
    alphabet.save(path)


def report_unknown(
    alphabet: Alphabet, texts: Sequence[str], ids: Sequence[str], where: str
) -> tuple[list[int], str | None]:
    """Which lines hold characters outside `alphabet`, and a message saying which
    characters, how often and in which lines (None when there are none)."""
    bad = [i for i, text in enumerate(texts) if alphabet.unknown(text)]
    if not bad:
        return [], None
    counts = Counter(ch for i in bad for ch in texts[i] if ch not in alphabet.ids)
    chars = ", ".join(f"{ch!r} ({n}x)" for ch, n in counts.most_common(10))
    examples = ", ".join(str(ids[i]) for i in bad[:3])
    return bad, (
        f"{where}: {len(bad)} of {len(texts)} transcriptions have characters outside "
        f"the alphabet: {chars}; e.g. in {examples}"
    )


def _show(chars: set[str]) -> str:
    return ", ".join(repr(ch) for ch in sorted(chars))
