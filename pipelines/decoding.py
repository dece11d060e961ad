"""Decoding strategies shared by the generative apps: greedy, sampling, beam search.

    lstmsuite generate music --run-dir runs/music/bach --set generate.temperature=0.8

Every strategy drives the same loop through one callable the app provides:

    step_fn(state, last) -> (scores, new_state)

`last` is what was emitted at the previous step (for the first step: the `start`
value the caller gives), `scores` describes the next step's distribution for each of
the B rows of the batch, and `state` is anything the app needs to carry (RNN states,
an attention memory, a frame buffer): a nested tuple/list/dict of arrays whose
leading axis is the batch, so that beam search can reorder it.

What `scores` mean is the job of a `Distribution`:
- `Categorical`: scores (B, V) over a vocabulary, `last` is (B,) token ids
  (translation, captioning); all three strategies apply.
- `Bernoulli`: scores (B, U) of U independent on/off units, `last` is (B, U) in {0,1}
  (music: 88 keys per frame); greedy and sampling apply.
- `NADE`: U dependent on/off units (music's RNN-NADE output: a chord), scores
  (B, U + H) are the NADE's biases; greedy and sampling apply, unit by unit.

Strategies are small classes with one method, `decode(step_fn, state, start, steps)`,
picked by name with `make_decoder("beam", beam_width=4)`. Every app reads them from
its config the same way: its `decode` section subclasses `DecodeConfig`, and
`decoder_from_config(cfg.decode, distribution)` builds the strategy it names. All
work in NumPy on the host: the step function calls the Keras model, and the search
itself is cheap bookkeeping.

CTC decoding (greedy collapse and prefix beam search over per-frame distributions)
is not a step-by-step generation: `decoder_from_config(cfg.decode, CTC())` gives a
`CTCDecoder`, whose `decode(scores, lengths)` runs the functions at the end of this
file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

StepFn = Callable[[Any, np.ndarray], tuple[np.ndarray, Any]]


# ----------------------------------------------------------------------- distributions


class Distribution:
    """How to read a step's scores: normalize, pick greedily, sample, score a choice."""

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def log_probs(self, scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        raise NotImplementedError

    def greedy(self, scores: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def sample(
        self, scores, rng, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0
    ):
        raise NotImplementedError

    def log_prob_of(self, scores: np.ndarray, choice: np.ndarray) -> np.ndarray:
        """Log-probability (B,) of `choice` under `scores` (temperature 1)."""
        raise NotImplementedError


class Categorical(Distribution):
    """One token out of V per step: scores (B, V), choices (B,) int."""

    def log_probs(self, scores, temperature=1.0):
        scores = np.asarray(scores, dtype=np.float64)
        logits = scores if self.from_logits else np.log(np.maximum(scores, 1e-30))
        logits = logits / max(temperature, 1e-6)
        logits = logits - logits.max(axis=-1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))

    def greedy(self, scores):
        return np.asarray(scores).argmax(axis=-1)

    def sample(self, scores, rng, temperature=1.0, top_k=0, top_p=1.0):
        logp = self.log_probs(scores, temperature)
        if top_k and top_k < logp.shape[-1]:
            kth = np.sort(logp, axis=-1)[:, -top_k][:, None]
            logp = np.where(logp >= kth, logp, -np.inf)
        p = np.exp(logp - logp.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        if top_p < 1.0:
            p = nucleus(p, top_p)
        # Inverse-CDF sampling with one uniform per row: same rng, same tokens.
        u = rng.random(p.shape[0])[:, None]
        return np.minimum((np.cumsum(p, axis=-1) < u).sum(axis=-1), p.shape[-1] - 1)

    def log_prob_of(self, scores, choice):
        logp = self.log_probs(scores)
        return np.take_along_axis(logp, np.asarray(choice)[:, None], axis=-1)[:, 0]


class Bernoulli(Distribution):
    """U independent on/off units per step: scores (B, U), choices (B, U) in {0, 1}.

    Temperature scales the logits of each unit: p' = sigmoid(logit(p) / T).
    """

    def _logits(self, scores):
        scores = np.asarray(scores, dtype=np.float64)
        if self.from_logits:
            return scores
        p = np.clip(scores, 1e-7, 1 - 1e-7)
        return np.log(p) - np.log1p(-p)

    def probs(self, scores, temperature=1.0):
        return 1.0 / (1.0 + np.exp(-self._logits(scores) / max(temperature, 1e-6)))

    def greedy(self, scores):
        return (self.probs(scores) >= 0.5).astype(np.float32)

    def sample(self, scores, rng, temperature=1.0, top_k=0, top_p=1.0):
        refuse_nucleus(top_p, "these units are independent on/off choices")
        p = self.probs(scores, temperature)
        if top_k:
            # At most top_k units on: keep the k most likely, sample those.
            kth = np.sort(p, axis=-1)[:, -min(top_k, p.shape[-1])][:, None]
            p = np.where(p >= kth, p, 0.0)
        return (rng.random(p.shape) < p).astype(np.float32)

    def log_probs(self, scores, temperature=1.0):
        p = np.clip(self.probs(scores, temperature), 1e-7, 1 - 1e-7)
        return np.stack([np.log1p(-p), np.log(p)], axis=-1)

    def log_prob_of(self, scores, choice):
        logp = self.log_probs(scores)
        choice = np.asarray(choice).astype(np.int64)
        return np.take_along_axis(logp, choice[..., None], axis=-1)[..., 0].sum(-1)


class NADE(Distribution):
    """U dependent on/off units per step, a NADE (music: a chord of the 88 keys).

    Unit d is on with probability sigmoid(b_v[d] + V[:, d] . sigmoid(b_h + W[:d]^T
    v_<d)): each unit depends on the units before it. `W` (U, H) and `V` (H, U) are
    the NADE's shared weights (`lstmsuite.apps.music.nade.NADE`); a step's scores
    are its biases side by side, (B, U + H) = [b_v, b_h], which the model computes
    from its recurrent state. Choices are (B, U) in {0, 1}.

    `sample` and `greedy` go unit by unit (ancestral sampling: U small NumPy steps
    over the batch); `log_prob_of` is one vectorized pass. Temperature scales each
    conditional's logit; `top_k` stops switching units on once k are on.
    """

    def __init__(self, input_kernel: np.ndarray, output_kernel: np.ndarray):
        super().__init__(from_logits=True)
        self.w = np.asarray(input_kernel, dtype=np.float64)
        self.v = np.asarray(output_kernel, dtype=np.float64)
        if self.w.ndim != 2 or self.v.shape != self.w.shape[::-1]:
            raise ValueError(
                "NADE needs input_kernel (U, H) and output_kernel (H, U); got "
                f"{self.w.shape} and {self.v.shape}"
            )
        self.units, self.hidden = self.w.shape

    def _split(self, scores):
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape[-1] != self.units + self.hidden:
            raise ValueError(
                f"NADE scores must be (B, {self.units} + {self.hidden}) = [b_v, b_h]; "
                f"got shape {scores.shape}"
            )
        return scores[..., : self.units], scores[..., self.units :]

    def logits(self, scores, choice):
        """Each unit's conditional logit given the units before it in `choice`."""
        b_v, b_h = self._split(scores)
        contributions = np.asarray(choice, np.float64)[..., :, None] * self.w
        before = np.cumsum(contributions, axis=-2) - contributions
        hidden = _sigmoid(b_h[..., None, :] + before)
        return b_v + np.einsum("...uh,hu->...u", hidden, self.v)

    def _ancestral(self, scores, pick, top_k=0):
        b_v, b_h = self._split(scores)
        batch = b_v.shape[0]
        frames = np.zeros((batch, self.units), dtype=np.float32)
        activation = b_h.copy()
        for d in range(self.units):
            logit = b_v[:, d] + _sigmoid(activation) @ self.v[:, d]
            on = pick(logit)
            if top_k:
                on &= frames.sum(axis=-1) < top_k
            frames[:, d] = on
            activation += on[:, None] * self.w[d]
        return frames

    def greedy(self, scores):
        return self._ancestral(scores, lambda logit: logit >= 0.0)

    def sample(self, scores, rng, temperature=1.0, top_k=0, top_p=1.0):
        refuse_nucleus(top_p, "NADE units are on/off choices")
        scale = 1.0 / max(temperature, 1e-6)

        def pick(logit):
            return rng.random(logit.shape) < _sigmoid(logit * scale)

        return self._ancestral(scores, pick, top_k)

    def log_probs(self, scores, temperature=1.0):
        raise NotImplementedError(
            "a NADE has no per-step table of log-probabilities (there are 2^U "
            "frames); use log_prob_of, greedy or sample"
        )

    def log_prob_of(self, scores, choice):
        logits = self.logits(scores, choice)
        y = np.asarray(choice, np.float64)
        # log sigmoid(x) = -log1p(exp(-x)), written stably for both signs.
        log_on = -np.logaddexp(0.0, -logits)
        log_off = -np.logaddexp(0.0, logits)
        return (y * log_on + (1.0 - y) * log_off).sum(axis=-1)


def refuse_nucleus(top_p: float, units: str) -> None:
    """Nucleus sampling is for one distribution over a vocabulary; on/off units
    have none, so a top_p below 1 is an error that points to top_k."""
    if top_p < 1.0:
        raise ValueError(
            "top_p (nucleus sampling) needs one distribution over a vocabulary "
            f"(Categorical); {units}: use top_k to cap how many are on. "
            f"Received: top_p={top_p!r}"
        )


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# ----------------------------------------------------------------------------- results


@dataclass
class Decoded:
    """sequences: (B, T) tokens or (B, T, U) frames, `start` not included; scores:
    (B,) total log-probability (beam: length-penalized); lengths: (B,) steps up to and
    including the end token."""

    sequences: np.ndarray
    scores: np.ndarray
    lengths: np.ndarray


# -------------------------------------------------------------------------- strategies


class Decoder:
    """Base class: `decode(step_fn, state, start, steps)` -> Decoded."""

    def __init__(self, distribution: Distribution | None = None, end_id=None):
        self.distribution = distribution or Categorical()
        self.end_id = end_id  # a Categorical token that ends a sequence

    def choose(self, scores: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def decode(self, step_fn: StepFn, state: Any, start, steps: int) -> Decoded:
        last = np.asarray(start)
        batch = last.shape[0]
        outputs, total = [], np.zeros(batch)
        lengths = np.full(batch, steps, dtype=np.int64)
        done = np.zeros(batch, dtype=bool)
        for t in range(steps):
            scores, state = step_fn(state, last)
            choice = self.choose(scores)
            if self.end_id is not None:
                choice = np.where(done, self.end_id, choice)
            step_logp = self.distribution.log_prob_of(scores, choice)
            total += np.where(done, 0.0, step_logp)
            outputs.append(choice)
            last = choice
            if self.end_id is not None:
                ended = (choice == self.end_id) & ~done
                lengths[ended] = t + 1
                done |= ended
                if done.all():
                    break
        return Decoded(np.stack(outputs, axis=1), total, lengths)


class Greedy(Decoder):
    """The most likely choice at every step (per unit for Bernoulli)."""

    def choose(self, scores):
        return self.distribution.greedy(scores)


def nucleus(p: np.ndarray, top_p: float) -> np.ndarray:
    """Probabilities (B, V) cut to their nucleus (Holtzman et al. 2020, "The
    Curious Case of Neural Text Degeneration"): per row, the most likely tokens
    whose probabilities first sum to at least `top_p`, renormalized; the rest 0.

    A token is kept when the tokens more likely than it sum to less than `top_p`,
    so the most likely token is always kept. Ties are ordered by token id.
    """
    order = np.argsort(-p, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=-1)
    before = np.cumsum(sorted_p, axis=-1) - sorted_p
    keep = np.zeros_like(p, dtype=bool)
    np.put_along_axis(keep, order, before < top_p, axis=-1)
    kept = np.where(keep, p, 0.0)
    return kept / kept.sum(axis=-1, keepdims=True)


class Sampling(Decoder):
    """Ancestral sampling with temperature (< 1 sharper, > 1 flatter), top-k and
    nucleus (top-p) truncation, applied in that order.

    The generator is seeded once per `decode`, so the same seed, model and start give
    the same output.
    """

    def __init__(
        self,
        distribution=None,
        end_id=None,
        temperature: float = 1.0,
        top_k: int = 0,
        seed: int | None = 0,
        top_p: float = 1.0,
    ):
        super().__init__(distribution, end_id)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if top_k < 0:
            raise ValueError(f"top_k must be 0 (no limit) or more, got {top_k}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1] (1: no limit), got {top_p}")
        if top_p < 1 and not isinstance(self.distribution, Categorical):
            raise ValueError(
                "top_p (nucleus sampling) needs a Categorical distribution; for "
                "Bernoulli or NADE units (music) use top_k"
            )
        self.temperature, self.top_k, self.seed = temperature, top_k, seed
        self.top_p = top_p
        self.rng = np.random.default_rng(seed)

    def decode(self, step_fn, state, start, steps):
        self.rng = np.random.default_rng(self.seed)
        return super().decode(step_fn, state, start, steps)

    def choose(self, scores):
        return self.distribution.sample(
            scores, self.rng, self.temperature, self.top_k, self.top_p
        )


class BeamSearch(Decoder):
    """Beam search over categorical tokens with the GNMT length penalty.

    Keeps `beam_width` hypotheses per batch row; the step function sees a batch of
    B * beam_width rows (row b * beam_width + k is hypothesis k of input b) and its
    state is reordered with the surviving hypotheses. Finished hypotheses (that
    emitted `end_id`) keep their score; the final ranking divides the log-probability
    by ((5 + length) / 6) ** length_penalty (Wu et al. 2016), so 0 means no penalty
    and larger values favour longer outputs.
    """

    def __init__(
        self,
        distribution=None,
        end_id=None,
        beam_width: int = 4,
        length_penalty: float = 0.6,
    ):
        super().__init__(distribution, end_id)
        if not isinstance(self.distribution, Categorical):
            raise ValueError(
                "beam search needs a Categorical distribution; for Bernoulli or NADE "
                "units (music) use greedy or sampling"
            )
        self.beam_width, self.length_penalty = beam_width, length_penalty

    def penalty(self, lengths):
        return ((5.0 + lengths) / 6.0) ** self.length_penalty

    def decode(self, step_fn, state, start, steps):
        start = np.asarray(start)
        batch, k = start.shape[0], self.beam_width
        # Every hypothesis starts identical; only the first may expand at step 0, or
        # the beam would fill with k copies of the same sequence.
        state = tree_map(lambda s: np.repeat(s, k, axis=0), state)
        last = np.repeat(start, k, axis=0)
        scores = np.tile(np.r_[0.0, np.full(k - 1, -np.inf)], (batch, 1))
        done = np.zeros((batch, k), dtype=bool)
        lengths = np.zeros((batch, k), dtype=np.int64)
        history = np.zeros((batch, k, 0), dtype=np.int64)
        for _ in range(steps):
            step_scores, state = step_fn(state, last)
            logp = self.distribution.log_probs(step_scores).reshape(batch, k, -1)
            vocab = logp.shape[-1]
            if self.end_id is not None:
                # A finished hypothesis can only "emit" end again, at no cost.
                finished = np.full(vocab, -np.inf)
                finished[self.end_id] = 0.0
                logp = np.where(done[..., None], finished, logp)
            candidates = (scores[..., None] + logp).reshape(batch, k * vocab)
            # Ranking uses the length-penalized score; the running score stays raw.
            cand_len = (lengths + ~done)[..., None].repeat(vocab, -1).reshape(batch, -1)
            ranked = candidates / self.penalty(cand_len)
            top = np.argsort(-ranked, axis=-1, kind="stable")[:, :k]
            beam, token = top // vocab, top % vocab
            scores = np.take_along_axis(candidates, top, axis=-1)
            lengths = np.take_along_axis(cand_len, top, axis=-1)
            done = np.take_along_axis(done, beam, axis=-1)
            if self.end_id is not None:
                done = done | (token == self.end_id)
            history = np.concatenate(
                [
                    np.take_along_axis(history, beam[..., None], axis=1),
                    token[..., None],
                ],
                axis=-1,
            )
            flat = (beam + np.arange(batch)[:, None] * k).reshape(-1)
            state = tree_map(lambda s, idx=flat: s[idx], state)
            last = token.reshape(-1)
            if done.all():
                break
        final = scores / self.penalty(np.maximum(lengths, 1))
        best = final.argmax(axis=-1)
        rows = np.arange(batch)
        return Decoded(history[rows, best], final[rows, best], lengths[rows, best])


STRATEGIES = {"greedy": Greedy, "sample": Sampling, "beam": BeamSearch}


def make_decoder(name: str, **kwargs) -> Decoder:
    """`make_decoder("beam", beam_width=4, end_id=2)`; unknown names list the
    choices."""
    from lstmsuite.pipelines.registry import unknown_name_message

    if name not in STRATEGIES:
        raise ValueError(unknown_name_message("decoding strategy", name, [*STRATEGIES]))
    return STRATEGIES[name](**kwargs)


@dataclass(kw_only=True)
class DecodeConfig:
    """The `decode` section every app shares: the strategy and its settings.

    An app subclasses it to add its own fields (a batch size, a length cap) or to
    change a default or the strategies it allows (music: sample or greedy).
    """

    strategy: Literal["greedy", "beam", "sample"] = "beam"
    beam_width: int = 4
    length_penalty: float = 0.0  # GNMT alpha; 0 ranks by total log-probability
    temperature: float = 1.0  # sample only
    top_k: int = 0  # sample only; 0: no limit
    top_p: float = 1.0  # sample only: nucleus sampling (Categorical); 1: no limit
    seed: int | None = None  # sample only; None: the config's seed


def decoder_from_config(
    decode: DecodeConfig,
    distribution: Distribution,
    *,
    strategy: str | None = None,
    end_id: int | None = None,
    seed: int | None = None,
    lexicon: CTCLexicon | None = None,
):
    """The strategy `decode.strategy` (or `strategy`) names, with its settings.

    Args:
        decode: the app's `decode` section.
        distribution: how the model's scores read: `Categorical`, `Bernoulli`, or
            `CTC` (then a `CTCDecoder` comes back, and strategy "lexicon" is the
            beam search constrained to `lexicon`).
        strategy: overrides `decode.strategy` (e.g. every strategy `evaluate`
            reports).
        end_id: the token that ends a sequence (Categorical only).
        seed: the sampling seed when `decode.seed` is None (the config's seed).
    """
    name = strategy or decode.strategy
    if isinstance(distribution, CTC):
        return CTCDecoder(name, decode.beam_width, distribution.blank, lexicon)
    options: dict[str, Any] = {"distribution": distribution, "end_id": end_id}
    if name == "beam":
        options.update(
            beam_width=decode.beam_width, length_penalty=decode.length_penalty
        )
    elif name == "sample":
        options.update(
            temperature=decode.temperature,
            top_k=decode.top_k,
            top_p=decode.top_p,
            seed=decode.seed if decode.seed is not None else seed,
        )
    return make_decoder(name, **options)


def tree_map(fn, tree):
    """Applies `fn` to every array leaf of nested tuples / lists / dicts."""
    if isinstance(tree, dict):
        return {key: tree_map(fn, value) for key, value in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(fn, value) for value in tree)
    if tree is None or np.isscalar(tree):
        return tree
    return fn(np.asarray(tree))


# --------------------------------------------------------------------------------- CTC
# Per-frame distributions (B, T, V) with a blank class decode by collapsing repeats
# and dropping blanks (greedy) or by prefix beam search, optionally constrained to a
# lexicon. They belong here, next to the other strategies, so that every recognizer
# shares them.
#
# `scores` are log-probabilities (a log-softmax output) or logits, (B, T, V); each
# function normalizes per frame first, so either works. `lengths` (B,) counts the
# real frames of each row (the rest is batch padding); None means all T. The result
# is one int array of label ids per row, blanks and merged repeats removed.


def ctc_greedy(scores, lengths=None, blank: int = 0) -> list[np.ndarray]:
    """Best-path decoding: the most likely class of every frame, repeats merged,
    blanks dropped (vectorized over the whole batch)."""
    best = np.asarray(scores).argmax(axis=-1)
    valid = _frame_mask(lengths, *best.shape)
    # A label starts a new symbol when it differs from the frame before; "a a" is
    # one "a", "a - a" (blank between) two.
    changed = np.ones_like(valid)
    changed[:, 1:] = best[:, 1:] != best[:, :-1]
    keep = valid & changed & (best != blank)
    return np.split(best[keep], np.cumsum(keep.sum(axis=1))[:-1])


def ctc_beam_search(
    scores,
    lengths=None,
    beam_width: int = 10,
    blank: int = 0,
    lexicon: CTCLexicon | None = None,
) -> list[np.ndarray]:
    """Prefix beam search: the most likely labelling, summing over all its paths.

    Unconstrained, this is TensorFlow's CTC beam search (`keras.ops.ctc_decode`, C++).
    With a `lexicon`, a NumPy prefix beam search (Hannun et al. 2014) that only grows
    prefixes of lexicon words and, at the end, only accepts complete words; when no
    hypothesis completes a word, the best incomplete one is returned.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be at least 1, got {beam_width}")
    logp = _log_softmax(np.asarray(scores, dtype=np.float32))
    batch, steps = logp.shape[:2]
    if lengths is None:
        lengths = np.full(batch, steps)
    lengths = np.minimum(np.asarray(lengths, dtype=np.int32), steps)
    if lexicon is not None:
        return [
            lexicon_beam_search(logp[b, : lengths[b]], beam_width, blank, lexicon)
            for b in range(batch)
        ]
    import keras

    decoded, _ = keras.ops.ctc_decode(
        logp,
        lengths,
        strategy="beam_search",
        beam_width=beam_width,
        top_paths=1,
        mask_index=blank,
    )
    decoded = keras.ops.convert_to_numpy(decoded)[0]
    return [row[row >= 0].astype(np.int64) for row in decoded]


class CTCLexicon:
    """The words constrained decoding may output, as a trie of label ids.

    Args:
        words: label-id sequences, one per word.
        separator: the label id allowed between words (a space, for line-level
            data); None: every output is exactly one word.
    """

    END = -1  # trie key marking the end of a word

    def __init__(self, words, separator: int | None = None):
        self.root: dict[int, Any] = {}
        self.separator = separator
        for word in words:
            node = self.root
            for label in word:
                node = node.setdefault(int(label), {})
            if node is not self.root:
                node[self.END] = True
        if not self.root:
            raise ValueError("the lexicon has no words")

    def next_nodes(self, node) -> list[tuple[int, dict]]:
        """(label, node after it) for every label that may follow `node`."""
        steps = [(label, child) for label, child in node.items() if label != self.END]
        if self.separator is not None and self.END in node:
            steps.append((self.separator, self.root))
        return steps

    def complete(self, node) -> bool:
        return self.END in node


def lexicon_beam_search(
    logp: np.ndarray, beam_width: int, blank: int, lexicon: CTCLexicon
) -> np.ndarray:
    """CTC prefix beam search over one row `logp` (T, V) of log-probabilities,
    restricted to `lexicon`. Each hypothesis keeps the log-probability of its paths
    ending in a blank and in a label, so "a-a" and "aa" stay apart."""
    neg_inf = -np.inf
    # prefix -> [log p(ends in blank), log p(ends in a label), trie node]
    beams: dict[tuple, list] = {(): [0.0, neg_inf, lexicon.root]}
    for frame in logp:
        grown: dict[tuple, list] = {}

        def add(prefix, blank_lp, label_lp, node, grown=grown):
            entry = grown.setdefault(prefix, [neg_inf, neg_inf, node])
            entry[0] = np.logaddexp(entry[0], blank_lp)
            entry[1] = np.logaddexp(entry[1], label_lp)

        for prefix, (p_blank, p_label, node) in beams.items():
            total = np.logaddexp(p_blank, p_label)
            add(prefix, total + frame[blank], neg_inf, node)
            if prefix:  # the last label repeated: merges into the same prefix
                add(prefix, neg_inf, p_label + frame[prefix[-1]], node)
            for label, child in lexicon.next_nodes(node):
                # After the same label, a new symbol needs a blank in between.
                base = p_blank if prefix and prefix[-1] == label else total
                add(prefix + (label,), neg_inf, base + frame[label], child)
        ranked = sorted(grown.items(), key=lambda kv: -np.logaddexp(*kv[1][:2]))
        beams = dict(ranked[:beam_width])
    ranked = sorted(beams.items(), key=lambda kv: -np.logaddexp(*kv[1][:2]))
    complete = [prefix for prefix, entry in ranked if lexicon.complete(entry[2])]
    best = complete[0] if complete else ranked[0][0]
    return np.asarray(best, dtype=np.int64)


@dataclass
class CTC:
    """Per-frame distributions (B, T, V) with a blank class: a CTC recognizer's
    output, for `decoder_from_config`."""

    blank: int = 0


class CTCDecoder:
    """A CTC strategy by name: "greedy" (best path), "beam" (prefix beam search of
    `beam_width`) or "lexicon" (the beam search constrained to `lexicon`)."""

    STRATEGIES = ("greedy", "beam", "lexicon")

    def __init__(
        self,
        strategy: str = "beam",
        beam_width: int = 10,
        blank: int = 0,
        lexicon: CTCLexicon | None = None,
    ):
        from lstmsuite.pipelines.registry import unknown_name_message

        if strategy not in self.STRATEGIES:
            raise ValueError(
                unknown_name_message("CTC strategy", strategy, [*self.STRATEGIES])
            )
        if strategy == "lexicon" and lexicon is None:
            raise ValueError("the lexicon strategy needs a lexicon (decode.lexicon)")
        self.strategy, self.beam_width = strategy, beam_width
        self.blank, self.lexicon = blank, lexicon

    def decode(self, scores, lengths=None) -> list[np.ndarray]:
        """One int array of label ids per row (blanks and merged repeats removed)."""
        if self.strategy == "greedy":
            return ctc_greedy(scores, lengths, blank=self.blank)
        lexicon = self.lexicon if self.strategy == "lexicon" else None
        return ctc_beam_search(
            scores, lengths, self.beam_width, blank=self.blank, lexicon=lexicon
        )


def _frame_mask(lengths, batch: int, steps: int) -> np.ndarray:
    if lengths is None:
        return np.ones((batch, steps), dtype=bool)
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))
