"""A random-weight Llama-shaped model runs the whole RAIN search with the embedded tokenizer."""

from __future__ import annotations

from rain_guard import SearchConfig, rain_generate
from rain_guard.backends.loading import load_backend


def test_random_tiny_model_answers_and_counts_its_work():
    backend = load_backend("random:tiny", num_threads=1)
    assert backend.model_name.startswith("random:tiny")
    assert backend.model.config.num_hidden_layers == 2
    assert backend.tokenizer.chat_template  # the embedded model's tokenizer and template
    config = SearchConfig(max_new_tokens=4, t_min=1, t_max=2, use_similarity=False)
    result = rain_generate(backend, [("user", "Hello?")], config=config)
    assert 0 < len(result.token_ids) <= 4
    assert result.counters["forward_calls"] > 0


def test_the_same_seed_builds_the_same_weights():
    first = load_backend("random:tiny", num_threads=1, dtype="float32")
    second = load_backend("random:tiny", num_threads=1, dtype="bfloat16")
    a = first.model.model.embed_tokens.weight
    b = second.model.model.embed_tokens.weight.float()
    assert (a.bfloat16().float() - b).abs().max() < 1e-6
