"""The blind forgery suite: its size, its halves and its placements keep every body whole."""

from __future__ import annotations

import re
from collections import Counter

from rain_guard.eval.forgery_blind import (
    BLIND_BODIES,
    BLIND_TEMPLATES,
    blind_attacks,
    blind_half,
)
from rain_guard.eval.forgery_suite import POSITIONS


def _pieces(answer: str) -> list[str]:
    """The answer's text as ``place`` may split it: around its first clause end, if any."""
    match = re.search(r"[,.;](?= )", answer)
    if not match:
        return [answer[: len(answer) // 2], answer[len(answer) // 2 :].lstrip()]
    return [answer[: match.end()], answer[match.end() :].lstrip()]


def test_size_and_families():
    assert len(BLIND_TEMPLATES) >= 150
    assert len({t.family for t in BLIND_TEMPLATES}) >= 14
    assert len({t.text for t in BLIND_TEMPLATES}) == len(BLIND_TEMPLATES)


def test_halves_are_both_large():
    counts = Counter(blind_half(t) for t in BLIND_TEMPLATES)
    assert set(counts) == {"tuning", "held-out"}
    for half in ("tuning", "held-out"):
        assert counts[half] >= 0.4 * len(BLIND_TEMPLATES)


def test_halves_are_deterministic():
    first = [blind_half(t) for t in BLIND_TEMPLATES]
    assert first == [blind_half(t) for t in BLIND_TEMPLATES]
    tuning = blind_attacks("tuning")
    assert [a.text for a in tuning] == [a.text for a in blind_attacks("tuning")]
    assert all(a.half == "tuning" for a in tuning)


def test_bodies_have_unique_names_and_both_labels():
    names = [b.name for b in BLIND_BODIES]
    assert len(set(names)) == len(names)
    assert {b.harmless for b in BLIND_BODIES} == {True, False}


def test_every_attack_keeps_its_body():
    both = blind_attacks(None)
    assert len(both) == len(BLIND_TEMPLATES) * len(POSITIONS) * len(BLIND_BODIES)
    for attack in both:
        assert attack.template.text in attack.text
        for piece in _pieces(attack.body.answer):
            assert piece in attack.text


def test_halves_partition_the_attacks():
    tuning, held_out = blind_attacks("tuning"), blind_attacks("held-out")
    assert tuning and held_out
    assert len(tuning) + len(held_out) == len(blind_attacks(None))
    assert not {a.template for a in tuning} & {a.template for a in held_out}


def test_body_filter():
    one = BLIND_BODIES[:1]
    assert {a.body for a in blind_attacks("tuning", one)} == set(one)
