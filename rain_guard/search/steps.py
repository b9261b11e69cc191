"""RAIN's steps as plain functions on a SearchTree: select, expand, backward, commit.

No model, no LangChain, no torch: whatever needs a model (proposing candidates, rolling out,
judging) is done by the caller and handed in as data or as a callback, which keeps every step
testable with numbers alone. Names follow the paper (Li et al., ICLR 2024, section 3):

* select   (forward) walk from the root by the PUCT rule, adding children where all look alike
           and bad (dynamic node addition); ``VirtualLoss`` lets several selections of one
           pass reach different leaves (parallel leaves);
* expand   attach candidate token sets to a leaf with normalised priors;
* backward (rewind) average the score into the path, and share it with similar siblings;
* commit   move the root to its most-visited child (with grafted roll-outs: the child
           holding the best-scored draft) and keep that subtree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from rain_guard.backends.base import Candidate
from rain_guard.search.config import SearchConfig
from rain_guard.search.tree import ROOT, SearchTree


def q_norm(tree: SearchTree, node: int) -> float:
    """Value scaled to [0, 1] by the tree's value range; 0 for an unvisited node."""
    if tree.visits[node] == 0:
        return 0.0
    return (tree.value[node] - tree.q_min) / (tree.q_max - tree.q_min + 1e-5)


def puct(tree: SearchTree, node: int, c_puct: float) -> float:
    """Selection score: Q_norm + c * p * sqrt(N(parent)) / (1 + N(node))."""
    parent_visits = tree.visits[tree.parent[node]]
    explore = c_puct * tree.prior[node] * math.sqrt(parent_visits) / (1.0 + tree.visits[node])
    return q_norm(tree, node) + explore


def needs_more_children(tree: SearchTree, node: int, config: SearchConfig) -> bool:
    """Dynamic node addition test: children alike (small embedding variance) and all bad.

    Under greedy first a lone greedy child has no siblings to be alike with: whether it gets
    rivals is ``needs_widening``'s decision (at ``adaptive_value``), not this one's.
    """
    kids = tree.children[node]
    if not config.dynamic_node_addition or not kids or len(kids) >= config.max_children:
        return False
    if len(kids) == 1 and greedy_first(config):
        return False
    embeddings = [tree.embedding[k] for k in kids]
    if any(e is None for e in embeddings):
        return False
    spread = float(np.linalg.norm(np.var(np.asarray(embeddings), axis=0)))
    alike = spread < config.dynamic_variance_scale * len(tree.tokens[kids[0]])
    all_bad = max(tree.value[k] for k in kids) < config.dynamic_value_ceiling
    return alike and all_bad


def greedy_first(config: SearchConfig) -> bool:
    """Adaptive budget, greedy first: expand leaves with their greedy set alone."""
    return config.adaptive_commit and config.adaptive_greedy_first


def greedy_rollout(config: SearchConfig) -> bool:
    """Adaptive budget, greedy first with greedy roll-outs: judge what greedy would commit."""
    return greedy_first(config) and config.adaptive_greedy_rollout


def needs_widening(tree: SearchTree, node: int, config: SearchConfig) -> bool:
    """Greedy first: the node's lone greedy child was evaluated and is not clearly good.

    Such a node then gets the other q - 1 candidates, and the search goes on as RAIN's.
    """
    kids = tree.children[node]
    if not greedy_first(config) or len(kids) != 1 or config.num_candidates < 2:
        return False
    return tree.real_visits[kids[0]] >= 1 and tree.value[kids[0]] < config.adaptive_value


def select(
    tree: SearchTree,
    config: SearchConfig,
    add_children: Callable[[int], None] | None = None,
    widen: Callable[[int], None] | None = None,
) -> int:
    """Walk from the root to a leaf by the PUCT rule and return the leaf.

    Args:
        tree: The tree (mutated only through ``add_children`` and ``widen``).
        config: Search settings (c_puct, dynamic node addition).
        add_children: Called with a node whose children need company (dynamic node
            addition); it should ``expand`` that node with fresh candidates.
        widen: Called with a node whose lone greedy child needs rivals (``needs_widening``);
            it should ``expand`` that node with the other q - 1 candidates.
    """
    node = ROOT
    while not tree.is_leaf(node):
        if widen is not None and needs_widening(tree, node, config):
            widen(node)
        if add_children is not None and needs_more_children(tree, node, config):
            add_children(node)
        node = max(tree.children[node], key=lambda k: puct(tree, k, config.c_puct))
    return node


class VirtualLoss:
    """Temporary losses on selected paths, so that the next ``select`` of a pass goes elsewhere.

    Parallel leaves: a pass selects several leaves before any is evaluated. Each selected
    path counts as visited once more with a value of -1 (the worst score) until ``restore``,
    which puts back every touched node's N and V exactly; the value range (``q_min``,
    ``q_max``, which starts at [-1, 1]) is never widened by it. Nodes created meanwhile
    (dynamic node addition) are untouched.
    """

    def __init__(self, tree: SearchTree) -> None:
        self.tree = tree
        self._saved: dict[int, tuple[float, float]] = {}

    def add(self, leaf: int) -> None:
        """Count the path from the root to ``leaf`` as visited once more, with a loss."""
        tree = self.tree
        for node in (ROOT, *tree.path(leaf)):
            self._saved.setdefault(node, (tree.visits[node], tree.value[node]))
            visits = tree.visits[node] + 1.0
            tree.value[node] += (-1.0 - tree.value[node]) / visits
            tree.visits[node] = visits

    def restore(self) -> None:
        """Undo every virtual loss added so far."""
        for node, (visits, value) in self._saved.items():
            self.tree.visits[node], self.tree.value[node] = visits, value
        self._saved.clear()


def expand(
    tree: SearchTree,
    node: int,
    candidates: Sequence[Candidate],
    config: SearchConfig,
    stop_ids: frozenset[int],
) -> list[int]:
    """Attach new candidate sets under ``node`` and renormalise all its children's priors.

    Candidates already present (same tokens) are skipped. The first candidate of a fresh
    expansion is the greedy one; its prior is clipped as in the reference so that it neither
    swamps nor trails the samples. Returns the ids of the new children.
    """
    known = {tree.tokens[k] for k in tree.children[node]}
    new = []
    for cand in candidates:
        if cand.tokens and cand.tokens not in known:
            known.add(cand.tokens)
            terminal = cand.tokens[-1] in stop_ids
            new.append(tree.add_child(node, cand.tokens, cand.logprob, terminal))
    set_priors(tree, node, config)
    return new


def graft(
    tree: SearchTree,
    leaf: int,
    rollout: Sequence[int],
    config: SearchConfig,
    stop_ids: frozenset[int],
    budget: int,
) -> tuple[int, list[int]]:
    """Keep a judged roll-out in the tree as a chain of token sets below ``leaf``.

    ``SearchConfig.graft_rollouts``: the roll-out is cut into sets of the lengths the search
    proposes at each depth (at most ``budget`` answer tokens in all); each set follows the
    child that already holds it or becomes a new child, until the roll-out has no whole set
    left, a set holds a stop id before its end, or a node has ``max_children``. The judged
    text is unchanged: the chain's path plus the rest of the roll-out. With a sparse judge
    (+1 only for a rare string) the good draft is then a branch the search can follow and
    commit, not a lucky sample lost.

    Returns:
        The node to back the score up from (``leaf`` when nothing is grafted) and the rest of
        the roll-out after it.
    """
    node, rest = leaf, list(rollout)
    while not tree.terminal[node] and budget >= 1:
        tokens = _next_set(rest, min(config.set_length(tree.depth[node]), budget), stop_ids)
        if not tokens:
            break
        child = _child_holding(tree, node, tokens)
        if child is None:
            if not _may_add_child(tree, node, config):
                break
            child = _graft_child(tree, node, tokens, config, stop_ids)
        node, rest, budget = child, rest[len(tokens) :], budget - len(tokens)
    return node, rest


def _next_set(rest: list[int], length: int, stop_ids: frozenset[int]) -> tuple[int, ...]:
    """The next whole set of a roll-out: ``length`` tokens, or fewer ending in a stop id.

    Empty when no whole set is left or a stop id comes before the set's end.
    """
    tokens = tuple(rest[:length])
    stop = next((i for i, t in enumerate(tokens) if t in stop_ids), None)
    if stop is not None:
        return tokens[: stop + 1]
    return tokens if len(tokens) == length else ()


def _may_add_child(tree: SearchTree, node: int, config: SearchConfig) -> bool:
    """Room for a grafted child: below ``max_children``, not beside a lone greedy child.

    A lone greedy child (adaptive budget, greedy first) is waiting for widening to give it
    its q - 1 rivals; a grafted sibling would stop that.
    """
    kids = tree.children[node]
    lone_greedy = greedy_first(config) and len(kids) == 1
    return len(kids) < config.max_children and not lone_greedy


def _child_holding(tree: SearchTree, node: int, tokens: tuple[int, ...]) -> int | None:
    return next((k for k in tree.children[node] if tree.tokens[k] == tokens), None)


def _graft_child(
    tree: SearchTree,
    node: int,
    tokens: tuple[int, ...],
    config: SearchConfig,
    stop_ids: frozenset[int],
) -> int:
    """A grafted set: the smallest logprob among its siblings, else a uniform top-k draw's."""
    kids = tree.children[node]
    uniform = -len(tokens) * math.log(config.top_k)
    logprob = min(tree.logprob[k] for k in kids) if kids else uniform
    child = tree.add_child(node, tokens, logprob, tokens[-1] in stop_ids)
    set_priors(tree, node, config)
    return child


def children_alike(tree: SearchTree, node: int, tolerance: float = 1e-6) -> bool:
    """At least two children were evaluated, all to the same value, below the worst-half mark.

    With ``graft_rollouts`` a root whose children look alike to the judge (a sparse judge
    scores every draft -1) is rolled out afresh, so new openings are sampled and grafted.
    """
    values = [tree.value[k] for k in tree.children[node] if tree.real_visits[k] > 0]
    return len(values) >= 2 and max(values) - min(values) <= tolerance and max(values) < 0.0


def set_priors(tree: SearchTree, node: int, config: SearchConfig) -> None:
    """Priors of ``node``'s children: set probabilities normalised, root mixed with uniform."""
    kids = tree.children[node]
    if not kids:
        return
    probs = np.exp(np.asarray([tree.logprob[k] for k in kids], dtype=np.float64))
    if len(kids) > 1:  # reference: greedy prior kept within [max + min, sum] of the samples
        rest = probs[1:]
        probs[0] = max(min(probs[0], rest.sum()), rest.max() + rest.min())
    total = probs.sum()
    probs = probs / total if total > 0 else np.full(len(kids), 1.0 / len(kids))
    if node == ROOT:
        probs = mix_uniform(probs, config.root_prior_mix)
    for k, p in zip(kids, probs, strict=True):
        tree.prior[k] = float(p)


def mix_uniform(probs: np.ndarray, mix: float) -> np.ndarray:
    """``mix * probs + (1 - mix) * uniform``, renormalised."""
    out = mix * probs + (1.0 - mix) / len(probs)
    return out / out.sum()


def backward(
    tree: SearchTree,
    leaf: int,
    score: float,
    config: SearchConfig,
    path_embeddings: Sequence[Sequence[float]] | None = None,
) -> None:
    """Back the score up from ``leaf`` to the root, with the similarity update.

    Every node on the path gets N += 1 and V moved to the running mean. With embeddings
    (one per path node, root excluded, ordered root-side first) each node's embedding becomes
    the running mean of what was evaluated through it, and every sibling with cosine
    similarity s >= threshold gets N += weight * s and V pulled towards the score likewise.
    """
    path = tree.path(leaf)
    use_sim = config.use_similarity and path_embeddings is not None
    if use_sim and len(path_embeddings) != len(path):
        raise ValueError(f"{len(path_embeddings)} embeddings for a path of {len(path)} nodes")
    for i, node in enumerate(path):
        _visit(tree, node, score)
        if use_sim:
            _update_embedding(tree, node, path_embeddings[i])
            _share_with_similar_siblings(tree, node, score, config)
    _visit(tree, ROOT, score)


def _visit(tree: SearchTree, node: int, score: float) -> None:
    tree.visits[node] += 1.0
    tree.real_visits[node] += 1
    tree.value[node] += (score - tree.value[node]) / tree.visits[node]
    _track_range(tree, node)


def _track_range(tree: SearchTree, node: int) -> None:
    if node != ROOT:
        tree.q_min = min(tree.q_min, tree.value[node])
        tree.q_max = max(tree.q_max, tree.value[node])


def _update_embedding(tree: SearchTree, node: int, embedding: Sequence[float]) -> None:
    new = np.asarray(embedding, dtype=np.float64)
    old = tree.embedding[node]
    if old is None:
        tree.embedding[node] = new.tolist()
    else:
        old_arr = np.asarray(old)
        tree.embedding[node] = (old_arr + (new - old_arr) / tree.real_visits[node]).tolist()


def _share_with_similar_siblings(
    tree: SearchTree, node: int, score: float, config: SearchConfig
) -> None:
    mine = np.asarray(tree.embedding[node])
    for sib in tree.children[tree.parent[node]]:
        if sib == node or tree.embedding[sib] is None:
            continue
        sim = cosine(mine, np.asarray(tree.embedding[sib]))
        if sim < config.similarity_threshold:
            continue
        weight = config.similarity_weight * sim
        before = tree.visits[sib]
        tree.visits[sib] = before + weight
        tree.value[sib] = (tree.value[sib] * before + weight * score) / tree.visits[sib]
        _track_range(tree, sib)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity; 0 when either vector is zero."""
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom > 0 else 0.0


def should_commit(tree: SearchTree, config: SearchConfig, commit: int = 0) -> bool:
    """Exit test of the inner loop: T_max reached, or T_min reached with a good best child.

    Iterations are the root's real visits, which include those carried over from before
    the last commit (as in the reference). A leaf root can never commit. ``commit`` is the
    index of the commit being searched for (0 = the first), which picks T_min and T from the
    config's schedules.

    With ``config.adaptive_commit`` (our adaptive budget, off in faithful mode) a commit may
    also come before T_min: once ``adaptive_min_iterations`` iterations are done, if the best
    child has been evaluated, its value reaches ``adaptive_value`` and it leads every other
    evaluated child's value by ``adaptive_margin``. A branch judged bad never qualifies, so
    harmful drafts still get the full search.

    With ``config.stop_when_decided`` it also holds once no iteration left before T can
    change the child a commit takes (``decided``).
    """
    best = chosen_child(tree, config)
    if best is None:
        return False
    done = tree.real_visits[ROOT]
    t_min, t_max = config.t_min_at(commit), config.t_max_at(commit)
    if done >= t_max:
        return True
    if config.stop_when_decided and decided(tree, config, best, t_max - done):
        return True
    early = config.adaptive_commit and done >= config.adaptive_min_iterations
    if early and _clearly_good(tree, best, config):
        return True
    return done >= t_min and tree.value[best] >= config.v_threshold


def decided(tree: SearchTree, config: SearchConfig, best: int, left: int) -> bool:
    """Whether ``best`` stays the most-visited root child whatever ``left`` iterations do.

    Each backed-up leaf adds at most 1 to a root child's visits N (its own path: 1; a
    similarity share: weight * s <= 1), and a pass never takes the root past T (``select``
    asks for at most the leaves left), so at most ``left`` leaves are still backed up. A
    lead of more than ``left`` visits over every rival (and over a child still to be added,
    at 0) cannot be overtaken or tied: every later exit test would commit ``best`` too. The
    test asks for ``k - 1`` visits more, a margin the measured figures were taken with. Not
    used with ``graft_rollouts``, whose commit rule is not by visits.
    """
    if config.graft_rollouts:
        return False
    rivals = [tree.visits[k] for k in tree.children[ROOT] if k != best]
    lead = tree.visits[best] - max(rivals, default=0.0)
    return lead > left + config.parallel_leaves - 1


def _clearly_good(tree: SearchTree, best: int, config: SearchConfig) -> bool:
    """Adaptive budget test: ``best`` was evaluated, is good enough and leads clearly."""
    if tree.real_visits[best] < 1 or tree.value[best] < config.adaptive_value:
        return False
    kids = tree.children[ROOT]
    rivals = [tree.value[k] for k in kids if k != best and tree.real_visits[k] > 0]
    return not rivals or tree.value[best] - max(rivals) >= config.adaptive_margin


def chosen_child(tree: SearchTree, config: SearchConfig) -> int | None:
    """The root child a commit takes: the most-visited one (ties: higher value).

    With ``graft_rollouts`` the tree holds the paths of the drafts it judged, so the child
    whose subtree holds the best-scored draft is taken (ties: most visited, then value): a
    draft found good can be reached by committing along its path, and visits piled up while
    every draft scored alike carry no information. None for a leaf root.
    """
    if not config.graft_rollouts:
        return tree.best_child(ROOT)
    kids = tree.children[ROOT]
    if not kids:
        return None
    best = {k: best_score(tree, k) for k in kids}
    return max(kids, key=lambda k: (best[k], tree.visits[k], tree.value[k]))


def best_score(tree: SearchTree, node: int) -> float:
    """The best score recorded in ``node``'s subtree; -inf if none.

    With ``graft_rollouts`` a node's ``score`` is the best of the drafts backed up from it.
    """
    best, todo = -math.inf, [node]
    while todo:
        current = todo.pop()
        score = tree.score[current]
        if score is not None:
            best = max(best, score)
        todo.extend(tree.children[current])
    return best


def commit(tree: SearchTree, config: SearchConfig) -> tuple[SearchTree, int]:
    """Move the root to ``chosen_child`` (most visited, ties: higher value; see there).

    Returns the re-rooted tree (the child's subtree with its statistics, children's priors
    re-smoothed with the uniform mix) and the old id of the committed child.
    """
    best = chosen_child(tree, config)
    if best is None:
        raise ValueError("cannot commit: the root has no children")
    new = tree.reroot(best)
    kids = new.children[ROOT]
    if kids:
        smoothed = mix_uniform(np.asarray([new.prior[k] for k in kids]), config.root_prior_mix)
        for k, p in zip(kids, smoothed, strict=True):
            new.prior[k] = float(p)
    return new, best
