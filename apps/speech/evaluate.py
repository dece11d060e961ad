"""Scoring and transcribing with a trained speech run.

`Recognizer` reads the run directory (the model in safe mode, `classes.json` or
`alphabet.json`) and turns batches of model inputs into texts; `evaluate` scores
the test split and draws the confusion matrix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lstmsuite.apps.speech.app import (
    ALPHABET_FILE,
    CONFUSION_FILE,
    NOTHING,
    OTHER,
    SpeechConfig,
    examples,
    load_classes,
    load_splits,
)


class Recognizer:
    """A trained run: the model and its labels; inputs -> texts."""

    def __init__(self, cfg: SpeechConfig, run_dir):
        import lstmsuite.apps.speech.model  # noqa: F401  (registers the custom layers)
        from lstmsuite.pipelines.alphabet import Alphabet
        from lstmsuite.pipelines.contract import RunDir

        run = RunDir(run_dir)
        self.cfg, self.model = cfg, run.load_model()
        if cfg.task == "classify":
            self.classes = load_classes(run.root)
        else:
            self.alphabet = Alphabet.load(run.root / ALPHABET_FILE)

    def scores(self, inputs) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(inputs))

    def frames(self, inputs) -> np.ndarray:
        return -(-np.asarray(inputs["length"]) // self.cfg.model.frame_stack)

    def transcribe(self, inputs, strategy: str | None = None) -> list[str]:
        return self.texts(self.scores(inputs), self.frames(inputs), strategy)

    def texts(self, scores, frames, strategy: str | None = None) -> list[str]:
        """classify: the most likely label; ctc: the decoded transcript."""
        if self.cfg.task == "classify":
            return [self.classes[i] for i in scores.argmax(axis=-1)]
        from lstmsuite.pipelines.decoding import CTC, decoder_from_config

        decoder = decoder_from_config(self.cfg.decode, CTC(), strategy=strategy)
        return [self.alphabet.decode(row) for row in decoder.decode(scores, frames)]


def test_batches(cfg: SpeechConfig, split):
    """(inputs, texts) batches of the test recordings (or fixed test strings)."""
    from lstmsuite.apps.speech.pipeline import batches, features, inputs

    ds, _ = examples(cfg, split, "test")
    ds = features(ds, cfg.data, training=False, seed=cfg.seed, fixed=False)
    ds = ds.map(lambda feats, text: (inputs(feats), text))
    ds = batches(ds, cfg.data, training=False, batch_size=cfg.decode.batch_size)
    return ds.as_numpy_iterator()


def evaluate(cfg: SpeechConfig, run_dir) -> dict[str, Any]:
    """Test accuracy (classify) or CER / WER / string accuracy (ctc), and the
    confusion matrix PNG in the run directory."""
    from lstmsuite.pipelines.metrics import ErrorRates

    recognizer = Recognizer(cfg, run_dir)
    splits = load_splits(cfg.data)
    strategies = ["greedy", "beam"] if cfg.task == "ctc" else [None]
    rates = {name: ErrorRates() for name in strategies}
    pairs: list[tuple[str, str]] = []  # (reference, hypothesis) of decode.strategy
    for x, refs in test_batches(cfg, splits["test"]):
        scores, frames = recognizer.scores(x), recognizer.frames(x)
        refs = [ref.decode("utf-8") for ref in refs]
        for name in strategies:
            hyps = recognizer.texts(scores, frames, name)
            rates[name].update(refs, hyps)
            if name in (None, cfg.decode.strategy):
                pairs += zip(refs, hyps)
    # The task's metric first: `lstmsuite study` plots the first score by default.
    result: dict[str, Any] = {}
    if cfg.task == "classify":
        counts = rates[None]
        result.update(
            accuracy=counts.lines_correct / max(counts.lines, 1),
            errors=counts.lines - counts.lines_correct,
            recordings=counts.lines,
        )
        # A test label the model never saw counts as an error; it gets a row.
        unseen = {ref for ref, _ in pairs} - set(recognizer.classes)
        labels = [*recognizer.classes, *sorted(unseen)]
        matrix = confusion(pairs, labels, words=False)
    else:
        chosen = rates[cfg.decode.strategy].result()
        result.update(
            cer=chosen["cer"],
            wer=chosen["wer"],
            string_accuracy=chosen["line_accuracy"],
        )
        for name in strategies:
            scores = rates[name].result()
            result[f"cer_{name}"] = scores["cer"]
            result[f"wer_{name}"] = scores["wer"]
            result[f"string_accuracy_{name}"] = scores["line_accuracy"]
        result.update(
            strategy=cfg.decode.strategy,
            beam_width=cfg.decode.beam_width,
            strings=rates["greedy"].lines,
            words=rates["greedy"].words,
        )
        # Hypothesis words that are no reference word ("02": a missed space) share
        # one column, so the matrix stays the size of the vocabulary.
        words = sorted({w for ref, _ in pairs for w in ref.split()})
        known = set(words)
        pairs = [
            (ref, " ".join(w if w in known else OTHER for w in hyp.split()))
            for ref, hyp in pairs
        ]
        labels = [*words, OTHER, NOTHING]
        matrix = confusion(pairs, labels, words=True)
    result["task"] = cfg.task
    result["skipped_files"] = len(splits.info.get("skipped") or [])
    from lstmsuite.pipelines.plots import confusion_matrix

    title = f"{cfg.data.source} test, {cfg.task}"
    path = confusion_matrix(matrix, labels, Path(run_dir) / CONFUSION_FILE, title)
    result["confusion_png"] = str(path)
    return result


def confusion(pairs, labels: list[str], words: bool) -> np.ndarray:
    """(true, predicted) counts. With `words`, each reference is aligned with its
    hypothesis word by word (Levenshtein): matches and substitutions count at
    (reference word, hypothesis word), deletions at (word, ∅), insertions at
    (∅, word)."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    if not words:
        for ref, hyp in pairs:
            matrix[index[ref], index[hyp]] += 1
        return matrix
    from rapidfuzz.distance import Levenshtein

    nothing = index[NOTHING]
    for ref, hyp in pairs:
        r, h = ref.split(), hyp.split()
        for block in Levenshtein.opcodes(r, h):
            tag, i0, i1 = block.tag, block.src_start, block.src_end
            j0, j1 = block.dest_start, block.dest_end
            if tag in ("equal", "replace"):
                for i, j in zip(range(i0, i1), range(j0, j1)):
                    matrix[index[r[i]], index[h[j]]] += 1
                # A replace of unequal spans: the rest are deletions or insertions.
                for i in range(i0 + (j1 - j0), i1):
                    matrix[index[r[i]], nothing] += 1
                for j in range(j0 + (i1 - i0), j1):
                    matrix[nothing, index[h[j]]] += 1
            elif tag == "delete":
                for i in range(i0, i1):
                    matrix[index[r[i]], nothing] += 1
            elif tag == "insert":
                for j in range(j0, j1):
                    matrix[nothing, index[h[j]]] += 1
    return matrix
