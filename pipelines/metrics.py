"""Evaluation metrics shared by the apps, computed in NumPy (float64) on predictions.

    lstmsuite evaluate music --run-dir runs/music/bach

Music (Boulanger-Lewandowski et al. 2012 convention, see ../shared/data/README.md):
- `bernoulli_nll`: per predicted frame, the binary cross-entropy summed over the 88
  units, in nats; averaged over every predicted frame of the split (padding excluded;
  the first frame of a piece is never predicted, so it is never scored).
- `frame_scores`: frame-level precision / recall / F1 over all (frame, pitch) cells
  with a note on, micro-averaged (Bay et al. 2009, as in most transcription papers).

Recognition (handwriting): character and word error rates (`ErrorRates`).
Translation: corpus BLEU and chrF (sacrebleu). Captioning: BLEU-1..4 and CIDEr-D.
Where a well-kept library computes a metric, it is used rather than rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Probabilities are clipped like Keras' binary cross-entropy, so a confident wrong
# note costs at most -log(1e-7) = 16.1 nats instead of infinity.
EPSILON = 1e-7


def _mask(targets: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    if mask is None:
        return np.ones(targets.shape[:-1], dtype=np.float64)
    return np.asarray(mask, dtype=np.float64)


def bernoulli_nll_sum(probs, targets, mask=None) -> tuple[float, float]:
    """(total nats over unmasked frames, number of unmasked frames)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), EPSILON, 1.0 - EPSILON)
    y = np.asarray(targets, dtype=np.float64)
    m = _mask(y, mask)
    per_frame = -(y * np.log(p) + (1.0 - y) * np.log1p(-p)).sum(axis=-1)
    return float((per_frame * m).sum()), float(m.sum())


def bernoulli_nll(probs, targets, mask=None) -> float:
    """Mean over unmasked frames of the BCE summed over the last axis, in nats.

    Args:
        probs: predicted on-probabilities, (..., frames, units).
        targets: 0/1, same shape.
        mask: (..., frames), 1 for real frames and 0 for padding; None: all real.
    """
    total, frames = bernoulli_nll_sum(probs, targets, mask)
    return total / max(frames, 1.0)


def frame_counts(probs, targets, mask=None, threshold: float = 0.5) -> np.ndarray:
    """[true positives, false positives, false negatives] over unmasked cells."""
    predicted = np.asarray(probs) >= threshold
    y = np.asarray(targets) >= 0.5
    m = _mask(np.asarray(targets), mask)[..., None] > 0
    tp = np.sum(predicted & y & m)
    fp = np.sum(predicted & ~y & m)
    fn = np.sum(~predicted & y & m)
    return np.array([tp, fp, fn], dtype=np.int64)


def prf_from_counts(counts) -> dict[str, float]:
    tp, fp, fn = (float(c) for c in counts)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def frame_scores(probs, targets, mask=None, threshold: float = 0.5):
    """Frame-level precision, recall and F1 of `probs >= threshold` against targets."""
    return prf_from_counts(frame_counts(probs, targets, mask, threshold))


@dataclass
class PianoRollScores:
    """Accumulates NLL and frame counts batch by batch over a whole split."""

    nats: float = 0.0
    frames: float = 0.0
    counts: np.ndarray | None = None

    def update(self, probs, targets, mask=None, predicted=None) -> None:
        """`probs`: the on-probability of each key given everything the model
        conditions on (for a NADE, the keys below it too), which gives the NLL;
        `predicted`: 0/1 frames for P/R/F1 (default: `probs >= 0.5`)."""
        nats, frames = bernoulli_nll_sum(probs, targets, mask)
        self.nats += nats
        self.frames += frames
        counts = frame_counts(probs if predicted is None else predicted, targets, mask)
        self.counts = counts if self.counts is None else self.counts + counts

    def result(self) -> dict[str, float]:
        scores = {"nll": self.nats / max(self.frames, 1.0), "frames": self.frames}
        scores.update(
            prf_from_counts(self.counts if self.counts is not None else [0] * 3)
        )
        return scores


# --------------------------------------------------------- recognition: CER, WER, lines
# Corpus-level rates, as in the handwriting literature: the total edit distance
# (substitutions + insertions + deletions, Levenshtein) over the total reference
# length, characters for the CER and whitespace-separated words for the WER. The
# distance is rapidfuzz's C++ Levenshtein (the backend of jiwer), which works on
# strings and on lists of words alike.


def edit_distance(reference, hypothesis) -> int:
    """Levenshtein distance between two strings (characters) or two token lists."""
    from rapidfuzz.distance import Levenshtein

    return int(Levenshtein.distance(reference, hypothesis))


@dataclass
class ErrorRates:
    """Accumulates CER, WER and line accuracy over (reference, hypothesis) pairs.

    `cer` = sum of character edit distances / sum of reference lengths (so it can
    exceed 1 with many insertions); `wer` the same over words; `line_accuracy` the
    fraction of lines transcribed exactly.
    """

    char_errors: int = 0
    chars: int = 0
    word_errors: int = 0
    words: int = 0
    lines_correct: int = 0
    lines: int = 0

    def update(self, references, hypotheses) -> None:
        for ref, hyp in zip(references, hypotheses, strict=True):
            self.char_errors += edit_distance(ref, hyp)
            self.chars += len(ref)
            ref_words, hyp_words = ref.split(), hyp.split()
            self.word_errors += edit_distance(ref_words, hyp_words)
            self.words += len(ref_words)
            self.lines_correct += int(ref == hyp)
            self.lines += 1

    def result(self) -> dict[str, float]:
        return {
            "cer": self.char_errors / max(self.chars, 1),
            "wer": self.word_errors / max(self.words, 1),
            "line_accuracy": self.lines_correct / max(self.lines, 1),
        }


def error_rates(references, hypotheses) -> dict[str, float]:
    """`{"cer", "wer", "line_accuracy"}` of hypotheses against references."""
    rates = ErrorRates()
    rates.update(references, hypotheses)
    return rates.result()


# ------------------------------------------------------------ captioning: BLEU, CIDEr-D
# Both take already tokenized text: `hypotheses` a list of token lists, `references`
# one list of token lists per hypothesis (all references of that image/sentence).


def _ngrams(tokens, n: int):
    from collections import Counter

    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu_scores(hypotheses, references, max_order: int = 4) -> dict[str, float]:
    """Corpus BLEU-1..max_order (Papineni et al. 2002) with multiple references.

    Clipped n-gram counts are summed over the corpus (each hypothesis n-gram counts at
    most as often as in the one reference where it is most frequent); the brevity
    penalty uses, per hypothesis, the reference length closest to its length (the
    shorter on a tie), as in coco-caption and NLTK. BLEU-n is the geometric mean of
    the precisions of orders 1..n times that penalty, unsmoothed (0 when some order
    has no match). Returns {"bleu1": ..., "bleu4": ...}.
    """
    import math

    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference sets"
        )
    matches, totals = [0] * max_order, [0] * max_order
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references):
        if not refs:
            raise ValueError("every hypothesis needs at least one reference")
        hyp_len += len(hyp)
        ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_order + 1):
            counts = _ngrams(hyp, n)
            best: dict = {}
            for ref in refs:
                for gram, c in _ngrams(ref, n).items():
                    best[gram] = max(best.get(gram, 0), c)
            matches[n - 1] += sum(min(c, best.get(g, 0)) for g, c in counts.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if hyp_len == 0:
        return {f"bleu{n}": 0.0 for n in range(1, max_order + 1)}
    penalty = 1.0 if hyp_len > ref_len else math.exp(1.0 - ref_len / hyp_len)
    scores, log_sum = {}, 0.0
    for n in range(1, max_order + 1):
        if matches[n - 1] == 0 or log_sum == -math.inf:
            log_sum = -math.inf
        else:
            log_sum += math.log(matches[n - 1] / totals[n - 1])
        scores[f"bleu{n}"] = (
            0.0 if log_sum == -math.inf else penalty * math.exp(log_sum / n)
        )
    return scores


def cider_d(hypotheses, references, sigma: float = 6.0, max_order: int = 4) -> float:
    """Corpus CIDEr-D (Vedantam et al. 2015), as coco-caption's `CiderD` computes it.

    Each sentence becomes, per n-gram order n = 1..4, a TF-IDF vector: raw n-gram
    count times log(#images / df), where df counts the images whose references hold
    the n-gram (the document frequencies come from the references of the evaluated
    set). For a hypothesis and one reference, order n scores
    sum_g min(h_g, r_g) * r_g / (|h| |r|)  (the clipped cosine similarity), times the
    Gaussian length penalty exp(-(len_h - len_r)^2 / (2 sigma^2)). An image's score
    is 10 x the mean over orders and references; the corpus score is the mean over
    images.
    """
    import math
    from collections import Counter

    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference sets"
        )
    if not hypotheses:
        return 0.0

    def counts(tokens):
        return [_ngrams(tokens, n) for n in range(1, max_order + 1)]

    ref_counts = [[counts(r) for r in refs] for refs in references]
    df: Counter = Counter()
    for refs in ref_counts:
        df.update({g for ref in refs for order in ref for g in order})
    log_images = math.log(float(len(references)))

    def vector(grams):
        vec = [
            {g: c * (log_images - math.log(max(1.0, df[g]))) for g, c in order.items()}
            for order in grams
        ]
        norms = [math.sqrt(sum(v * v for v in order.values())) for order in vec]
        return vec, norms

    total = 0.0
    for hyp, refs, grams in zip(hypotheses, references, ref_counts):
        h_vec, h_norm = vector(counts(hyp))
        score = 0.0
        for ref, ref_grams in zip(refs, grams):
            r_vec, r_norm = vector(ref_grams)
            penalty = math.exp(-((len(hyp) - len(ref)) ** 2) / (2.0 * sigma**2))
            for n in range(max_order):
                dot = sum(
                    min(v, r_vec[n].get(g, 0.0)) * r_vec[n].get(g, 0.0)
                    for g, v in h_vec[n].items()
                )
                if h_norm[n] and r_norm[n]:
                    score += dot / (h_norm[n] * r_norm[n]) * penalty
        total += 10.0 * score / max_order / len(refs)
    return total / len(hypotheses)


# --------------------------------------------------------- translation: sacreBLEU, chrF
# Detokenized text in, sacreBLEU's own tokenization (13a) inside: the scores are the
# standard, comparable ones. `references[i]` lists every reference of hypothesis i;
# sources with fewer references are padded with None, which sacreBLEU skips.


def _reference_streams(hypotheses, references) -> list[list[str | None]]:
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference lists"
        )
    if any(not refs for refs in references):
        raise ValueError("every hypothesis needs at least one reference")
    width = max((len(refs) for refs in references), default=0)
    return [
        [refs[k] if k < len(refs) else None for refs in references]
        for k in range(width)
    ]


def corpus_bleu(hypotheses, references) -> float:
    """sacreBLEU corpus BLEU (0-100) of hypotheses against all their references."""
    import sacrebleu

    streams = _reference_streams(hypotheses, references)
    return float(sacrebleu.corpus_bleu(list(hypotheses), streams).score)


def corpus_chrf(hypotheses, references) -> float:
    """sacreBLEU corpus chrF (0-100, character 6-grams, beta 2)."""
    import sacrebleu

    streams = _reference_streams(hypotheses, references)
    return float(sacrebleu.corpus_chrf(list(hypotheses), streams).score)
