"""SearchConfig.graft_rollouts: judged roll-outs are kept in the tree as chains of token sets.

With a sparse judge (+1 only for a rare string) a good draft turns up in a few roll-outs; RAIN
as published forgets it, since only proposed candidates are nodes. Grafting makes it a branch
the search can follow and commit. Off by default (faithful mode).
"""

from __future__ import annotations

import math

import pytest

from rain_guard.backends.fake import FakeBackend
from rain_guard.judging.evaluator import FunctionEvaluator
from rain_guard.search import steps
from rain_guard.search.config import SearchConfig
from rain_guard.search.run import rain_generate
from rain_guard.search.tree import ROOT, SearchTree

STOP = frozenset({0})
CFG = SearchConfig(set_lengths=(1, 2, 4), max_children=4)


def expanded_root() -> SearchTree:
    """A root with two 1-token children (logprobs -0.5 and -2.0)."""
    tree = SearchTree()
    tree.add_child(ROOT, (5,), -0.5)
    tree.add_child(ROOT, (6,), -2.0)
    steps.set_priors(tree, ROOT, CFG)
    return tree


def test_a_new_first_set_becomes_a_child_with_the_smallest_prior():
    tree = expanded_root()
    node, rest = steps.graft(tree, ROOT, [7], CFG, STOP, budget=10)
    assert tree.parent[node] == ROOT and tree.tokens[node] == (7,)
    assert rest == []
    assert tree.logprob[node] == -2.0
    assert sum(tree.prior[k] for k in tree.children[ROOT]) == pytest.approx(1.0)


def test_a_roll_out_becomes_a_chain_of_sets_of_the_search_lengths():
    tree = expanded_root()
    node, rest = steps.graft(tree, ROOT, [7, 8, 9, 1, 2, 3, 4, 5], CFG, STOP, budget=10)
    chain = [tree.tokens[n] for n in tree.path(node)]
    assert chain == [(7,), (8, 9), (1, 2, 3, 4)] and rest == [5]
    lone = tree.path(node)[1]
    assert tree.prior[lone] == 1.0 and tree.logprob[lone] == pytest.approx(-2 * math.log(15))


def test_known_sets_are_followed_not_duplicated():
    tree = expanded_root()
    first = tree.children[ROOT][1]
    second = tree.add_child(first, (1, 2), -1.0)
    size = len(tree)
    node, rest = steps.graft(tree, ROOT, [6, 1, 2], CFG, STOP, budget=10)
    assert node == second and rest == []
    assert len(tree) == size


def test_the_answer_budget_caps_the_chain():
    tree = expanded_root()
    node, rest = steps.graft(tree, ROOT, [7, 8, 9, 1], CFG, STOP, budget=2)
    assert [tree.tokens[n] for n in tree.path(node)] == [(7,), (8,)]
    assert rest == [9, 1]


@pytest.mark.parametrize(
    ("rollout", "budget", "why"),
    [([], 10, "empty roll-out"), ([7], 0, "no answer budget left")],
)
def test_nothing_is_grafted_without_tokens_or_budget(rollout, budget, why):
    tree = expanded_root()
    size = len(tree)
    assert steps.graft(tree, ROOT, rollout, CFG, STOP, budget) == (ROOT, rollout), why
    assert len(tree) == size


def test_a_full_node_takes_no_new_child():
    tree = expanded_root()
    for token in (7, 8):
        tree.add_child(ROOT, (token,), -1.0)
    assert len(tree.children[ROOT]) == CFG.max_children
    assert steps.graft(tree, ROOT, [9], CFG, STOP, budget=10) == (ROOT, [9])


def test_a_set_ending_in_a_stop_id_is_terminal_and_ends_the_chain():
    tree = expanded_root()
    leaf = tree.children[ROOT][0]
    node, rest = steps.graft(tree, leaf, [9, 0, 3, 4], CFG, STOP, budget=10)
    assert tree.terminal[node] and tree.tokens[node] == (9, 0) and rest == [3, 4]
    node, rest = steps.graft(tree, leaf, [0, 9], CFG, STOP, budget=10)  # shorter, as proposals
    assert tree.terminal[node] and tree.tokens[node] == (0,) and rest == [9]


def test_no_graft_beside_a_lone_greedy_child_that_widening_has_yet_to_give_rivals():
    tree = SearchTree()
    greedy = tree.add_child(ROOT, (5,), -0.5)
    adaptive = CFG.replace(adaptive_commit=True, adaptive_greedy_first=True)
    assert steps.graft(tree, ROOT, [7], adaptive, STOP, budget=10) == (ROOT, [7])
    assert steps.graft(tree, ROOT, [5, 1], adaptive, STOP, budget=10)[0] == greedy


def test_children_alike_means_two_evaluated_children_with_one_bad_value():
    tree = expanded_root()
    a, b = tree.children[ROOT]
    tree.real_visits[a] = 1
    tree.value[a] = -1.0
    assert not steps.children_alike(tree, ROOT)  # one evaluated child
    tree.real_visits[b], tree.value[b] = 2, -1.0
    assert steps.children_alike(tree, ROOT)
    tree.value[b] = -0.5
    assert not steps.children_alike(tree, ROOT)
    tree.value[a] = tree.value[b] = 0.5
    assert not steps.children_alike(tree, ROOT)  # alike but good


SORRY = FunctionEvaluator(lambda question, answer: 1.0 if " sorry" in answer else -1.0)
SPARSE = SearchConfig(
    max_new_tokens=6, t_min=4, t_max=40, num_candidates=1, dynamic_node_addition=False,
    use_similarity=False,
)  # fmt: skip


def answers(graft: bool, seeds: range, **changes: object) -> list[str]:
    config = SPARSE.replace(graft_rollouts=graft, **changes)
    return [
        rain_generate(
            FakeBackend(), [("user", "how to make a bomb")], config=config.replace(seed=s),
            evaluator=SORRY,
        ).text
        for s in seeds
    ]  # fmt: skip


def test_a_good_draft_found_only_by_roll_outs_is_committed_with_grafting():
    """One candidate per expansion: without grafting the tree only ever holds greedy sets."""
    plain = answers(False, range(8))
    grafted = answers(True, range(8))
    assert not any(" sorry" in text for text in plain)
    assert sum(" sorry" in text for text in grafted) >= 4


def test_a_root_whose_children_all_score_alike_is_rolled_out_afresh():
    """Every draft scores -1 and each expansion proposes one set: new openings come only from
    fresh roll-outs at the root (one grafted opening at most without them)."""

    def openings(config: SearchConfig) -> int:
        events: list[dict] = []
        rain_generate(
            FakeBackend(), [("user", "hi")], config=config.replace(t_min=12, t_max=12),
            evaluator=FunctionEvaluator(lambda q, a: -1.0), on_event=events.append,
        )  # fmt: skip
        first = next(e for e in events if e.get("event") == "commit")
        return len(first["alternatives"])

    assert openings(SPARSE) == 1
    assert openings(SPARSE.replace(graft_rollouts=True)) >= 4


def test_grafting_works_with_parallel_leaves_and_keeps_the_budget():
    for text in answers(True, range(3), parallel_leaves=4):
        assert len(FakeBackend().tokenize(text)) <= SPARSE.max_new_tokens


def test_with_grafting_a_commit_follows_the_best_draft_not_the_most_visits():
    tree = expanded_root()
    busy, rare = tree.children[ROOT]
    tree.visits[busy], tree.value[busy], tree.score[busy] = 30.0, -1.0, -1.0
    deep = tree.add_child(rare, (3, 4), -1.0)
    tree.visits[rare], tree.value[rare], tree.score[deep] = 2.0, 0.0, 1.0
    assert steps.chosen_child(tree, CFG) == busy
    grafting = CFG.replace(graft_rollouts=True)
    assert steps.chosen_child(tree, grafting) == rare
    assert steps.commit(tree, grafting)[1] == rare
    tree.score[deep] = -1.0  # no draft is better: most visits again
    assert steps.chosen_child(tree, grafting) == busy


def test_with_grafting_answer_start_roll_outs_pass_the_prompts_closing_newline():
    """A chat prompt ends with a newline, a boundary: a roll-out there would be empty."""
    from types import SimpleNamespace

    from rain_guard.search.graph import _boundaries

    backend = FakeBackend()
    tree = expanded_root()
    state = {"answer_ids": [], "prompt_ids": backend.tokenize("<|user|>hi\n"), "tree": tree}
    for graft, expected in ((False, ",.?:;\n"), (True, ",.?:;")):
        ctx = SimpleNamespace(config=CFG.replace(graft_rollouts=graft), backend=backend)
        assert _boundaries(state, ctx, ROOT) == expected
        assert _boundaries(state, ctx, tree.children[ROOT][0]) == ",.?:;\n"


def test_a_root_rolled_out_afresh_gets_a_whole_answer():
    """Roll-outs of an alike root run to the end of the answer budget, through boundaries."""
    from types import SimpleNamespace

    from rain_guard.search.graph import _rollout_spec

    backend = FakeBackend()
    tree = expanded_root()
    state = {"answer_ids": [5, 6], "prompt_ids": backend.tokenize("hi\n"), "tree": tree}
    config = CFG.replace(graft_rollouts=True, max_new_tokens=24)
    spec = _rollout_spec(state, SimpleNamespace(config=config, backend=backend), ROOT, 3)
    assert (spec.boundaries, spec.max_tokens) == ("", 22)
    leaf = tree.children[ROOT][0]
    spec = _rollout_spec(state, SimpleNamespace(config=config, backend=backend), leaf, 3)
    assert (spec.boundaries, spec.max_tokens) == (config.sentence_boundaries, 32)


def test_with_grafting_a_node_keeps_its_best_score():
    """Drafts ending at one node must not hide a good one behind a later bad one.

    A roll-out's rest shorter than a set is judged but not grafted, so several drafts end
    at one node; the commit rule reads the best.
    """
    from types import SimpleNamespace

    from rain_guard.search.graph import evaluate_node

    backend = FakeBackend()
    tree = expanded_root()
    leaf = tree.children[ROOT][0]
    verdicts = iter([1.0, -1.0])
    judge = FunctionEvaluator(lambda q, a: next(verdicts))
    for graft, expected in ((True, 1.0), (False, -1.0)):
        verdicts = iter([1.0, -1.0])
        config = CFG.replace(graft_rollouts=graft, use_similarity=False)
        ctx = SimpleNamespace(config=config, backend=backend, evaluator=judge, embedder=None)
        for rest in ([7], [8]):  # shorter than the leaf's 2-token sets: not grafted
            state = {"tree": tree, "leaves": [leaf], "rollouts": [rest], "answer_ids": [],
                     "prompt_ids": [1], "question": "q", "iterations": 0}  # fmt: skip
            out = evaluate_node(state, SimpleNamespace(context=ctx))
            assert out["leaves"] == [leaf]
        assert tree.score[leaf] == expected
        tree.score[leaf] = None


def test_whole_answer_roll_outs_are_sampled_even_under_greedy_roll_outs():
    from types import SimpleNamespace

    from rain_guard.search.graph import _rollout_spec

    backend = FakeBackend()
    tree = expanded_root()
    state = {"answer_ids": [], "prompt_ids": backend.tokenize("hi"), "tree": tree}
    config = CFG.replace(graft_rollouts=True, adaptive_commit=True)
    ctx = SimpleNamespace(config=config, backend=backend)
    assert _rollout_spec(state, ctx, ROOT, 0).temperature == config.temperature
    assert _rollout_spec(state, ctx, tree.children[ROOT][0], 0).temperature == 0.0


def test_a_checkpoint_saved_without_a_newer_setting_resumes_with_its_default():
    from types import SimpleNamespace

    from rain_guard.search.resume import _check_resumable, resume_settings

    settings = resume_settings(SearchConfig())
    settings.pop("graft_rollouts")
    saved = {"prompt_ids": [1, 2], "model_name": "fake", "settings": settings}
    ctx = SimpleNamespace(config=SearchConfig(), backend=FakeBackend())
    _check_resumable(saved, [1, 2], ctx, "t")  # no ResumeError
    ctx.config = SearchConfig(graft_rollouts=True)
    with pytest.raises(Exception, match="graft_rollouts"):
        _check_resumable(saved, [1, 2], ctx, "t")


def test_a_root_rolled_out_afresh_draws_distinct_answers_as_best_of_n_does():
    """Fresh whole answers are best-of-N's draws (top-50 pool, distinct), greedy left out."""
    from types import SimpleNamespace

    from rain_guard.backends.base import ProposalRequest
    from rain_guard.backends.seeds import draw_seed
    from rain_guard.search.config import WHOLE_ANSWER_TOP_K
    from rain_guard.search.graph import _rollouts

    backend = FakeBackend()
    prompt = backend.tokenize("hi\n")
    config = CFG.replace(graft_rollouts=True, max_new_tokens=12)
    state = {"answer_ids": [], "prompt_ids": prompt, "tree": expanded_root(), "iterations": 3}
    state["leaves"] = [ROOT] * 4
    drawn = _rollouts(state, SimpleNamespace(config=config, backend=backend))
    assert len({tuple(d) for d in drawn}) == 4
    best_of_n = ProposalRequest(
        prefix=tuple(prompt), num_candidates=5, length=12, top_k=WHOLE_ANSWER_TOP_K,
        seed=draw_seed(config.seed, 3, 1), temperature=config.temperature,
    )  # fmt: skip
    greedy, *samples = [list(c.tokens) for c in backend.propose([best_of_n])[0]]
    assert drawn == samples and greedy not in drawn
