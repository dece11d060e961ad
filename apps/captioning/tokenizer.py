"""The caption tokenizer: a word vocabulary built from the training captions.

    from lstmsuite.apps.captioning.tokenizer import CaptionTokenizer

    tok = CaptionTokenizer.fit(["A red circle.", "a blue square"], min_count=1)
    tok.encode("a red zebra")          # [4, 5, 1]: "zebra" is unknown -> OOV id 1
    tok.decode([4, 5, 3, 0])           # "a red" (stops at the end token)
    tok.save(run_dir / "vocab.json")   # written by `train`, read by evaluate/predict

Text is lower-cased and split on anything that is not a letter, a digit or an
apostrophe, so "Dog's ball." and "dog's ball" give the same tokens (the usual
caption normalization; coco-caption's PTB tokenizer does much the same). The same
`words()` function tokenizes the references for BLEU and CIDEr-D.

Ids 0..3 are reserved: 0 padding, 1 unknown word (OOV), 2 start, 3 end. The file is
plain JSON (a list of words), never pickled.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from lstmsuite.pipelines.contract import write_text

PAD, OOV, START, END = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<start>", "<end>")
FORMAT = "lstmsuite-caption-vocab-1"

_NON_WORD = re.compile(r"[^0-9a-z']+")


def words(text: str) -> list[str]:
    """Normalized word tokens of a caption: lower case, punctuation dropped."""
    return [w for w in _NON_WORD.split(text.lower()) if w.strip("'")]


class CaptionTokenizer:
    """Word <-> id mapping with reserved ids for padding, OOV, start and end."""

    def __init__(self, vocabulary: list[str]):
        if list(vocabulary[: len(SPECIALS)]) != list(SPECIALS):
            raise ValueError(
                f"a caption vocabulary must start with {', '.join(SPECIALS)}"
            )
        self.vocabulary = list(vocabulary)
        self.index = {w: i for i, w in enumerate(self.vocabulary)}

    @classmethod
    def fit(
        cls, captions: Iterable[str], min_count: int = 1, max_words: int | None = None
    ) -> CaptionTokenizer:
        """Words seen at least `min_count` times, most frequent first (ties by
        spelling, so the same captions always give the same ids), at most
        `max_words` of them."""
        counts = Counter(w for caption in captions for w in words(caption))
        ranked = sorted(
            (w for w, c in counts.items() if c >= min_count),
            key=lambda w: (-counts[w], w),
        )
        if max_words is not None:
            ranked = ranked[:max_words]
        if not ranked:
            raise ValueError("no caption words to build a vocabulary from")
        return cls([*SPECIALS, *ranked])

    def __len__(self) -> int:
        return len(self.vocabulary)

    def encode(self, caption: str, max_words: int | None = None) -> list[int]:
        """Word ids without start/end; unknown words map to OOV."""
        ids = [self.index.get(w, OOV) for w in words(caption)]
        return ids[:max_words] if max_words else ids

    def decode_words(self, ids: Iterable[int]) -> list[str]:
        """Words up to the first end token; padding and start are skipped."""
        out = []
        for i in ids:
            i = int(i)
            if i == END:
                break
            if i in (PAD, START):
                continue
            out.append(self.vocabulary[i] if 0 <= i < len(self) else SPECIALS[OOV])
        return out

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.decode_words(ids))

    def save(self, path: str | Path) -> Path:
        data = {"format": FORMAT, "vocabulary": self.vocabulary}
        return write_text(path, json.dumps(data, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> CaptionTokenizer:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: no caption vocabulary; train a model into this run "
                "directory first"
            ) from None
        except ValueError as e:
            raise ValueError(f"{path}: not a caption vocabulary ({e})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a caption vocabulary (format {FORMAT})")
        return cls(data["vocabulary"])
