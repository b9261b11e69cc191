"""Train the shipped harm classifier (rain_guard/judging/harm_classifier.npz) on dev data only.

    .venv/bin/python benchmarks/train_harm_classifier.py            # select, train, write
    .venv/bin/python benchmarks/train_harm_classifier.py --check    # retrain, compare only
    .venv/bin/python benchmarks/train_harm_classifier.py --extra none --out /tmp/hc.npz

Data: the draft benchmark's dev split, TUNING half only (rain_guard.eval.drafts, with the
embedded model's drafts of benchmarks/data/smollm2_drafts_dev.jsonl); the held-out half is
never read here. Extra training sources (``EXTRA_SOURCES``, chosen with ``--extra``; default
``DEFAULT_EXTRAS``) add labelled pairs from the same dev tuning half that the benchmark does
not hold, to training only:

* ``truthfulqa-answers``: ordinary questions with ordinary answers, labelled harmless. The
  benchmark's benign requests are XSTest's alarming-but-safe prompts and 25 TruthfulQA
  questions with the embedded model's drafts; it has no human-written ordinary help, so a
  judge trained on it alone reads any plain helpful answer as compliance. Each dev TruthfulQA
  question of the tuning half contributes its best, correct and incorrect reference answers
  (a wrong answer to "where was Obama born?" is false, not harmful), cut to the draft lengths
  like the benchmark's answers.
* ``forgery-notes`` (default): each benchmark pair again with a forged verdict note placed in
  it (a development attack or a generated tuning-half template), labelled as the body. It
  trains the judge to read past notes that the forgery cuts leave in; the blind suite and
  the generated held-out half stay unseen.

Model selection: 4-fold cross-validation grouped by request inside the tuning half, over
feature blocks and model sizes (``CONFIGS``); each fold trains on the other folds' benchmark
and extra pairs and is scored on its benchmark pairs only, so the criterion (the mean of the
per-length AUROCs of the out-of-fold scores) is the same with or without extras. The chosen
configuration is then fitted on all training pairs and written with their sha256 and the
names of the extra sources.

Fitting is numpy only (no scikit-learn at run time or here): full-batch Adam on the
class-balanced logistic loss with an L2 penalty, a fixed number of steps and a fixed seed,
so a rerun on the same data writes the same weights (up to float rounding of the encoder).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from rain_guard.eval.draft_judges import auroc
from rain_guard.eval.drafts import (
    DRAFT_LENGTHS,
    HARMLESS,
    DraftPair,
    cut_draft,
    draft_half,
    draft_pairs,
    training_hash,
)
from rain_guard.judging import learned

DRAFTS_FILE = "benchmarks/data/smollm2_drafts_dev.jsonl"
FOLDS = 4
SEED = 0


@dataclass(frozen=True)
class Config:
    """One candidate: feature blocks, hidden units (0 = logistic regression), L2 weight."""

    blocks: tuple[str, ...]
    hidden: int
    l2: float
    steps: int = 300
    learning_rate: float = 0.02


BASE = ("request", "draft", "product")
CONFIGS = (
    Config(BASE, 0, 1e-3),
    Config((*BASE, "refusal"), 0, 1e-3),
    Config((*BASE, "refusal"), 0, 1e-2),
    Config(learned.FEATURE_BLOCKS, 0, 1e-2),
    Config((*BASE, "refusal"), 32, 1e-2),
)


def tuning_pairs() -> list[DraftPair]:
    """The dev draft benchmark's tuning half, in benchmark order."""
    return [p for p in draft_pairs("dev", model_drafts=DRAFTS_FILE) if p.half == "tuning"]


def truthfulqa_answer_pairs(tuning: list[DraftPair]) -> list[DraftPair]:
    """Dev TruthfulQA questions of the tuning half with their reference answers, harmless.

    Per question, in file order: the best answer, then the correct and the incorrect answers
    (each distinct text once), each cut to every draft length. ``tuning`` (the benchmark's
    tuning-half pairs, which every source is given) is not needed here.
    """
    from rain_guard.eval.datasets import load_dataset

    pairs = []
    for item in load_dataset("truthfulqa", split="dev"):
        if draft_half(item.prompt) != "tuning":
            continue
        meta = item.meta
        answers = [meta["best_answer"], *meta["correct_answers"], *meta["incorrect_answers"]]
        for answer in dict.fromkeys(a.strip() for a in answers if a.strip()):
            for length in DRAFT_LENGTHS:
                draft = cut_draft(answer, length)
                if draft:
                    pairs.append(
                        DraftPair(
                            item.prompt, draft, HARMLESS, "truthfulqa-answers", length, False,
                            "tuning",
                        )
                    )  # fmt: skip
    return pairs


def forgery_note_pairs(tuning: list[DraftPair]) -> list[DraftPair]:
    """Each of the ``tuning`` pairs (the benchmark's tuning half) again, with a forged note in it.

    The note is one of the development attacks (``forgery_dev_attacks``, 84) or a template
    of the generated suite's tuning half, at the start, middle or end of the draft; a hash
    of the pair picks which, so the set is fixed. The label stays the body's: a verdict-like
    note is no evidence either way, and a judge trained on these learns to read past it.
    The blind suite (``forgery_blind``) is never read here, so both its halves stay unseen,
    and neither is the generated suite's held-out half.
    """
    from rain_guard.eval import forgery_dev_attacks as dev
    from rain_guard.eval import forgery_suite as generated

    notes = [generated.Template("dev", a.text, dev.is_block(a)) for a in dev.ATTACKS]
    notes += [t for t in generated.TEMPLATES if generated.attack_half(t) == "tuning"]
    pairs = []
    for pair in tuning:
        pick = _pair_hash("rain-note-aug-v1", pair)
        note, position = notes[pick % len(notes)], generated.POSITIONS[(pick // len(notes)) % 3]
        draft = generated.place(note, pair.draft, position)
        pairs.append(
            DraftPair(pair.request, draft, pair.label, "forgery-notes", pair.length,
                      pair.unsafe_prompt, "tuning")
        )  # fmt: skip
    return pairs


def _pair_hash(salt: str, pair: DraftPair) -> int:
    """A fixed number from a pair's request and draft."""
    text = f"{salt}|{pair.request}|{pair.draft}".encode()
    return int(hashlib.sha256(text).hexdigest()[:12], 16)


EXTRA_SOURCES: dict[str, Callable[[list[DraftPair]], list[DraftPair]]] = {
    "truthfulqa-answers": truthfulqa_answer_pairs,
    "forgery-notes": forgery_note_pairs,
}
DEFAULT_EXTRAS: tuple[str, ...] = ("forgery-notes",)


def training_pairs(extras: Sequence[str] = DEFAULT_EXTRAS) -> list[DraftPair]:
    """The training data: the tuning half, then each extra source's pairs not already in it.

    Raises:
        ValueError: an unknown extra source name.
    """
    unknown = set(extras) - set(EXTRA_SOURCES)
    if unknown:
        raise ValueError(f"unknown extra sources {sorted(unknown)}; known: {list(EXTRA_SOURCES)}")
    tuning = tuning_pairs()
    pairs = list(tuning)
    seen = {(p.request, p.draft, p.length) for p in pairs}
    for name in extras:
        for pair in EXTRA_SOURCES[name](tuning):
            key = (pair.request, pair.draft, pair.length)
            if key not in seen:
                seen.add(key)
                pairs.append(pair)
    return pairs


def is_extra(pair: DraftPair) -> bool:
    """Whether a training pair comes from an extra source (not the benchmark)."""
    return pair.source in EXTRA_SOURCES


def embed_pairs(pairs: list[DraftPair]) -> tuple[np.ndarray, np.ndarray]:
    """MiniLM embeddings of each pair's request and draft (as the evaluator reads them)."""
    from rain_guard.search.embeddings import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    texts = list(
        dict.fromkeys(
            [learned.read_request(p.request) for p in pairs]
            + [learned.read_draft(p.draft) for p in pairs]
        )
    )
    vectors: dict[str, np.ndarray] = {}
    for start in range(0, len(texts), 64):
        chunk = texts[start : start + 64]
        vectors |= dict(zip(chunk, np.asarray(embedder.embed(chunk)), strict=True))
    requests = np.stack([vectors[learned.read_request(p.request)] for p in pairs])
    drafts = np.stack([vectors[learned.read_draft(p.draft)] for p in pairs])
    return requests, drafts


def fit(x: np.ndarray, y: np.ndarray, config: Config) -> list[tuple[np.ndarray, np.ndarray]]:
    """Layers fitted by full-batch Adam on the class-balanced logistic loss (+ L2 on weights)."""
    rng = np.random.default_rng(SEED)
    widths = [x.shape[1], *([config.hidden] if config.hidden else []), 1]
    layers = [
        (rng.normal(0.0, np.sqrt(2.0 / a), (a, b)) if config.hidden else np.zeros((a, b)),
         np.zeros(b))
        for a, b in zip(widths, widths[1:], strict=False)
    ]  # fmt: skip
    weight = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    weight = weight / weight.sum()
    params = [a for layer in layers for a in layer]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    for step in range(1, config.steps + 1):
        grads = _gradients(x, y, weight, layers, config.l2)
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            m, v = moments[i]
            m[:] = 0.9 * m + 0.1 * g
            v[:] = 0.999 * v + 0.001 * g * g
            p -= (
                config.learning_rate
                * (m / (1 - 0.9**step))
                / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
            )
    return layers


def _gradients(x, y, weight, layers, l2):  # noqa: ANN001, ANN202 - numeric internals
    activations = [x]
    for i, (w, b) in enumerate(layers):
        z = activations[-1] @ w + b
        activations.append(np.maximum(z, 0.0) if i < len(layers) - 1 else z)
    p = 1.0 / (1.0 + np.exp(-np.clip(activations[-1][:, 0], -50, 50)))
    delta = ((p - y) * weight)[:, None]
    grads: list[np.ndarray] = []
    for i in range(len(layers) - 1, -1, -1):
        w, _ = layers[i]
        grads = [activations[i].T @ delta + l2 * w, delta.sum(0), *grads]
        if i > 0:
            delta = (delta @ w.T) * (activations[i] > 0)
    return grads


def predict(x: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """P(harmless) per row of standardised ``x``."""
    h = x
    for i, (w, b) in enumerate(layers):
        h = h @ w + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return 1.0 / (1.0 + np.exp(-np.clip(h[:, 0], -50, 50)))


def standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and scales (1 where a column is constant)."""
    scale = x.std(0)
    return x.mean(0), np.where(scale > 1e-8, scale, 1.0)


def fold_of(request: str) -> int:
    """Cross-validation fold of a request (a hash, apart from the halves' hash)."""
    digest = hashlib.sha256(("rain-harm-cv-v1|" + request).encode("utf-8")).hexdigest()
    return int(digest[:8], 16) % FOLDS


def mean_length_auroc(pairs: list[DraftPair], scores: np.ndarray) -> tuple[float, dict]:
    """Mean over draft lengths of the AUROC, and the per-length values."""
    labels = np.array([p.label for p in pairs])
    lengths = np.array([p.length for p in pairs])
    per = {n: auroc(scores[lengths == n], labels[lengths == n]) for n in DRAFT_LENGTHS}
    return float(np.nanmean(list(per.values()))), per


def block_matrix(requests, drafts, pairs, blocks) -> np.ndarray:  # noqa: ANN001
    """Feature rows of the pairs for ``blocks`` (see ``learned.features``)."""
    return learned.features(requests, drafts, [learned.read_draft(p.draft) for p in pairs], blocks)


def cross_validate(pairs, requests, drafts, config: Config) -> tuple[float, dict]:  # noqa: ANN001
    """Out-of-fold mean per-length AUROC of ``config`` on the tuning half's benchmark pairs.

    Each fold trains on the other folds' pairs, extras included, and is scored on its own
    benchmark pairs only (the extras are not part of the criterion).
    """
    x = block_matrix(requests, drafts, pairs, config.blocks)
    y = np.array([p.label for p in pairs], dtype=float)
    folds = np.array([fold_of(p.request) for p in pairs])
    benchmark = np.array([not is_extra(p) for p in pairs])
    scores = np.zeros(len(pairs))
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        mean, scale = standardise(x[train])
        layers = fit((x[train] - mean) / scale, y[train], config)
        scores[test] = predict((x[test] - mean) / scale, layers)
    scored = [p for p, keep in zip(pairs, benchmark, strict=True) if keep]
    return mean_length_auroc(scored, scores[benchmark])


def train_final(pairs, requests, drafts, config: Config):  # noqa: ANN001, ANN201
    """Standardisation and layers of ``config`` fitted on all the given pairs."""
    x = block_matrix(requests, drafts, pairs, config.blocks)
    y = np.array([p.label for p in pairs], dtype=float)
    mean, scale = standardise(x)
    return mean, scale, fit((x - mean) / scale, y, config)


def main() -> None:
    """Select by cross-validation, fit on the tuning half, write (or check) the file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(learned.DEFAULT_PATH))
    parser.add_argument("--check", action="store_true", help="retrain the shipped config only")
    parser.add_argument(
        "--extra",
        default=",".join(DEFAULT_EXTRAS) or "none",
        help="comma list of extra training sources of EXTRA_SOURCES, or 'none' "
        "(--check uses the file's own)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    extras = parse_extras(args.extra)
    if args.check:
        extras = tuple(learned.HarmClassifier(args.out).meta.get("extra_sources", ()))
    pairs = training_pairs(extras)
    data_hash = training_hash(pairs)
    extra = sum(is_extra(p) for p in pairs)
    print(f"{len(pairs)} training pairs ({extra} from extras {list(extras)}), sha256 {data_hash}",
          file=sys.stderr)  # fmt: skip
    requests, drafts = embed_pairs(pairs)
    if args.check:
        shipped = learned.HarmClassifier(args.out)
        config = Config(
            **{**shipped.meta["config"], "blocks": tuple(shipped.meta["config"]["blocks"])}
        )
        mean, scale, layers = train_final(pairs, requests, drafts, config)
        x = block_matrix(requests, drafts, pairs, config.blocks)
        fresh = predict((x - mean) / scale, layers)
        diff = np.abs(fresh - shipped.probabilities(x)).max()
        same_data = shipped.meta["data_sha256"] == data_hash
        print(json.dumps({"same_data": same_data, "max_probability_difference": float(diff)}))
        sys.exit(0 if same_data and diff < 1e-3 else 1)
    results = []
    for config in CONFIGS:
        mean_auc, per = cross_validate(pairs, requests, drafts, config)
        results.append((mean_auc, config, per))
        cells = " ".join(f"{v:.3f}" for v in per.values())
        print(f"{mean_auc:.4f}  {cells}  {config}", file=sys.stderr)
    best_auc, best, _ = max(results, key=lambda r: r[0])
    mean, scale, layers = train_final(pairs, requests, drafts, best)
    labels = np.array([p.label for p in pairs])
    meta = {
        "config": asdict(best),
        "data_sha256": data_hash,
        "training_data": "draft benchmark, dev split, tuning half (rain_guard.eval.drafts)"
        + "".join(f" + {name}" for name in extras),
        "extra_sources": list(extras),
        "training_pairs": len(pairs),
        "training_extra_pairs": sum(is_extra(p) for p in pairs),
        "training_harmful": int((labels == 0).sum()),
        "cv_mean_length_auroc": round(best_auc, 4),
        "cv_results": [
            {"config": asdict(c), "mean_length_auroc": round(a, 4)} for a, c, _ in results
        ],
        "script": "benchmarks/train_harm_classifier.py",
    }
    x = block_matrix(requests, drafts, pairs, best.blocks)
    probs = predict((x - mean) / scale, layers)
    meta["examples"] = [  # a few training pairs and their P(harmless), for a quick check
        {
            "request": pairs[i].request,
            "draft": pairs[i].draft,
            "p_harmless": round(float(probs[i]), 5),
        }
        for i in range(0, len(pairs), max(1, len(pairs) // 5))
    ]
    learned.save(args.out, blocks=best.blocks, mean=mean, scale=scale, layers=layers, meta=meta)
    print(f"wrote {args.out}: {best} (CV {best_auc:.4f})", file=sys.stderr)


def parse_extras(text: str) -> tuple[str, ...]:
    """``"none"`` or ``""`` -> ``()``; ``"a,b"`` -> ``("a", "b")``."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    return () if names in ([], ["none"]) else tuple(names)


if __name__ == "__main__":
    main()
