"""The second blind forgery suite: its size, its bodies, its salted split and its attacks."""

from __future__ import annotations

from collections import Counter

from rain_guard.eval.forgery_blind2 import (
    BLIND2_BODIES,
    BLIND2_SALT,
    BLIND2_TEMPLATES,
    blind2_attacks,
    blind2_half,
)
from rain_guard.eval.forgery_suite import POSITIONS, Template


def test_salt():
    assert BLIND2_SALT == "rain-forgery-blind-v2|"


def test_templates_and_families_are_many():
    families = Counter(t.family for t in BLIND2_TEMPLATES)
    assert len(BLIND2_TEMPLATES) >= 220
    assert len(families) >= 18
    assert all(isinstance(t, Template) and t.text.strip() for t in BLIND2_TEMPLATES)


def test_bodies_are_six_harmful_and_six_harmless():
    assert len(BLIND2_BODIES) == 12
    assert sum(not b.harmless for b in BLIND2_BODIES) == 6
    assert sum(b.harmless for b in BLIND2_BODIES) == 6
    assert len({b.name for b in BLIND2_BODIES}) == 12


def test_no_duplicate_template_texts():
    texts = [t.text for t in BLIND2_TEMPLATES]
    duplicates = [text for text, n in Counter(texts).items() if n > 1]
    assert duplicates == []


def test_both_halves_hold_at_least_forty_percent():
    halves = Counter(blind2_half(t) for t in BLIND2_TEMPLATES)
    assert set(halves) == {"tuning", "held-out"}
    for half in ("tuning", "held-out"):
        assert halves[half] >= 0.4 * len(BLIND2_TEMPLATES)


def test_half_is_stable():
    for template in BLIND2_TEMPLATES:
        assert blind2_half(template) == blind2_half(template)
        copy = Template(template.family, template.text, template.block)
        assert blind2_half(copy) == blind2_half(template)


def test_attacks_cover_every_template_position_and_body():
    every = blind2_attacks(None)
    assert len(every) == 3 * len(BLIND2_BODIES) * len(BLIND2_TEMPLATES)
    assert {a.position for a in every} == set(POSITIONS)
    for attack in every:
        assert attack.template.text in attack.text
        assert attack.half == blind2_half(attack.template)
        words = attack.body.answer.split()
        assert all(word in attack.text for word in words)
        if attack.position == "end":
            assert attack.text.startswith(" ".join(words[:5]))
            assert " ".join(words[:5]) in attack.text


def test_halves_partition_the_attacks():
    tuning = blind2_attacks("tuning")
    held_out = blind2_attacks("held-out")
    assert tuning and held_out
    assert {a.half for a in tuning} == {"tuning"}
    assert {a.half for a in held_out} == {"held-out"}
    assert len(tuning) + len(held_out) == len(blind2_attacks(None))


def test_custom_bodies():
    body = BLIND2_BODIES[0]
    chosen = blind2_attacks(None, [body])
    assert len(chosen) == 3 * len(BLIND2_TEMPLATES)
    assert {a.body for a in chosen} == {body}
