"""SearchTree: RAIN's search tree as parallel lists indexed by integer node id.

Plain lists of numbers (no parent-pointer objects, no tensors) make the tree cheap to copy,
trivially serialisable (``to_dict``/``from_dict``) and safe to keep in LangGraph state.
Node 0 is always the root: the text committed so far. ``reroot`` moves the root to a child and
keeps only that child's subtree, with its statistics, renumbered from 0.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

NO_PARENT = -1
ROOT = 0  # the root always has id 0


@dataclass
class SearchTree:
    """Statistics of every node; ``node`` ids index all lists alike.

    Attributes:
        parent: Parent id, ``NO_PARENT`` for the root.
        tokens: The token set a node appends to its parent's text (empty for the root).
        logprob: Log-probability of the token set under the LM (nats, <= 0); priors derive from it.
        prior: Selection prior p, normalised among siblings (0..1).
        visits: N, a float because similarity updates add fractions.
        real_visits: Evaluations that passed through the node (integers, no similarity share).
        value: V, running mean of evaluation scores, in [-1, 1].
        children: Child ids in creation order.
        embedding: Running mean of sentence embeddings of texts evaluated through the node.
        depth: Token sets between the start of the answer and the node (root of a fresh answer: 0).
        terminal: The set ends the answer (EOS); terminal nodes are never expanded.
        score: Last evaluation score of a draft backed up from this node (with
            ``graft_rollouts``: the best one); None until evaluated.
        q_min: Smallest value seen in the tree (normalises Q; reference starts at -1).
        q_max: Largest value seen in the tree (reference starts at +1).
    """

    parent: list[int] = field(default_factory=lambda: [NO_PARENT])
    tokens: list[tuple[int, ...]] = field(default_factory=lambda: [()])
    logprob: list[float] = field(default_factory=lambda: [0.0])
    prior: list[float] = field(default_factory=lambda: [1.0])
    visits: list[float] = field(default_factory=lambda: [0.0])
    real_visits: list[int] = field(default_factory=lambda: [0])
    value: list[float] = field(default_factory=lambda: [0.0])
    children: list[list[int]] = field(default_factory=lambda: [[]])
    embedding: list[list[float] | None] = field(default_factory=lambda: [None])
    depth: list[int] = field(default_factory=lambda: [0])
    terminal: list[bool] = field(default_factory=lambda: [False])
    score: list[float | None] = field(default_factory=lambda: [None])
    q_min: float = -1.0
    q_max: float = 1.0

    def __len__(self) -> int:
        return len(self.parent)

    def add_child(
        self, parent: int, tokens: tuple[int, ...], logprob: float, terminal: bool = False
    ) -> int:
        """Append a child of ``parent`` with zero statistics and return its id."""
        node = len(self.parent)
        self.parent.append(parent)
        self.tokens.append(tuple(tokens))
        self.logprob.append(float(logprob))
        self.prior.append(0.0)
        self.visits.append(0.0)
        self.real_visits.append(0)
        self.value.append(0.0)
        self.children.append([])
        self.embedding.append(None)
        self.depth.append(self.depth[parent] + 1)
        self.terminal.append(terminal)
        self.score.append(None)
        self.children[parent].append(node)
        return node

    def is_leaf(self, node: int) -> bool:
        return not self.children[node]

    def path(self, node: int) -> list[int]:
        """Node ids from the root's child down to ``node`` (empty for the root)."""
        out = []
        while node != ROOT and node != NO_PARENT:
            out.append(node)
            node = self.parent[node]
        return out[::-1]

    def path_tokens(self, node: int) -> list[int]:
        """Tokens appended to the committed text along the path to ``node``."""
        return [t for n in self.path(node) for t in self.tokens[n]]

    def best_child(self, node: int = 0) -> int | None:
        """Most-visited child (ties: higher value); None for a leaf."""
        kids = self.children[node]
        if not kids:
            return None
        return max(kids, key=lambda k: (self.visits[k], self.value[k]))

    def reroot(self, child: int) -> SearchTree:
        """A tree rooted at ``child`` with its subtree and statistics, ids renumbered from 0."""
        if self.parent[child] != ROOT:
            raise ValueError(f"node {child} is not a child of the root")
        order = [child]
        for n in order:  # breadth-first; `order` grows while iterated
            order.extend(self.children[n])
        new_id = {old: i for i, old in enumerate(order)}
        tree = SearchTree(q_min=self.q_min, q_max=self.q_max)
        for name in _NODE_FIELDS:
            setattr(tree, name, [getattr(self, name)[old] for old in order])
        tree.parent = [NO_PARENT] + [new_id[self.parent[old]] for old in order[1:]]
        tree.children = [[new_id[k] for k in self.children[old]] for old in order]
        tree.tokens[0] = ()
        return tree

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        data = asdict(self)
        data["tokens"] = [list(t) for t in self.tokens]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchTree:
        """Inverse of ``to_dict``."""
        data = copy.deepcopy(dict(data))  # the restored tree must not share the input's lists
        data["tokens"] = [tuple(t) for t in data["tokens"]]
        return cls(**data)


_NODE_FIELDS = (
    "tokens",
    "logprob",
    "prior",
    "visits",
    "real_visits",
    "value",
    "embedding",
    "depth",
    "terminal",
    "score",
)
