"""Fixtures of the translation tests: small pair files in the exact on-disk formats."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SHARED_DATA = ROOT.parent / "shared" / "data"
TINY = str(ROOT / "configs" / "translation" / "tiny.yaml")

ENGLISH = ["one", "two", "three", "four", "five", "six", "seven", "eight"]
FRENCH = ["un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit"]


def number_pairs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """A learnable toy language pair: 1-4 number words, translated word by word."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        words = [rng.randrange(len(ENGLISH)) for _ in range(rng.randint(1, 4))]
        english = " ".join(ENGLISH[w] for w in words).capitalize() + "."
        french = " ".join(FRENCH[w] for w in words).capitalize() + "."
        pairs.append((english, french))
    return pairs


@pytest.fixture(scope="session")
def numbers_tsv(tmp_path_factory) -> Path:
    """An Anki-format file: source<TAB>target<TAB>attribution, one pair a line."""
    path = tmp_path_factory.mktemp("anki") / "numbers.txt"
    lines = [
        f"{en}\t{fr}\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i}"
        for i, (en, fr) in enumerate(number_pairs(600))
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
