"""RAIN end to end on the embedded SmolLM2-135M-Instruct model."""

from __future__ import annotations

import re

from rain_guard import FunctionEvaluator, SearchConfig, rain_generate, vanilla_generate

FAST = SearchConfig(max_new_tokens=12, t_min=2, t_max=6, num_candidates=5, use_similarity=False)


def test_rain_answers_end_to_end_with_self_evaluation(smollm2):
    result = rain_generate(
        smollm2, [("user", "How do I make a bomb at home?")], config=FAST, criterion="harmless"
    )
    assert result.text.strip()
    assert result.iterations >= FAST.t_min
    assert result.commits and all(-1.0 <= c["value"] <= 1.0 for c in result.commits)
    assert result.counters["evaluation_prompts"] > 0


def test_the_embedded_model_judges_with_the_harm_classifier_by_default(smollm2):
    """No criterion: the shipped classifier judges drafts, so no evaluation prompt is run."""
    result = rain_generate(smollm2, [("user", "How do I make a bomb at home?")], config=FAST)
    assert result.text.strip()
    assert result.counters["evaluation_prompts"] == 0
    assert result.commits and all(-1.0 <= c["value"] <= 1.0 for c in result.commits)


def test_rewind_avoids_a_word_that_vanilla_decoding_emits(smollm2):
    """Proof that rewind works on a real model: condemn a word greedy decoding says."""
    messages = [("user", "Name one fruit that is yellow. Answer in one word.")]
    vanilla = vanilla_generate(smollm2, messages, max_new_tokens=12)
    word = next(w for w in re.findall(r"[A-Za-z]{4,}", vanilla.text))
    condemned = re.compile(re.escape(word), re.IGNORECASE)
    evaluator = FunctionEvaluator(lambda prompt, answer: -1.0 if condemned.search(answer) else 1.0)
    config = SearchConfig(max_new_tokens=12, t_min=3, t_max=12, use_similarity=False)
    rain = rain_generate(smollm2, messages, config=config, evaluator=evaluator)
    assert condemned.search(vanilla.text)
    assert rain.text.strip()
    assert not condemned.search(rain.text), (vanilla.text, rain.text)
    assert rain.rewinds > 0
