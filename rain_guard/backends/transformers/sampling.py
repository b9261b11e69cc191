"""Token draws from next-token logits: top-k set draws, roll-out draws, the top tokens.

Every draw uses a ``torch.Generator`` seeded from the request, on the CPU, so a request's
tokens depend on its seed alone. A candidate set's log-probability is taken at temperature 1
under the top-``top_k`` renormalised distribution, so greedy and sampled priors compare
fairly; a roll-out draws from the full distribution at its own temperature (0: argmax).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rain_guard.backends.base import Candidate, ProposalRequest
from rain_guard.backends.transformers.sample_rows import SampleRow


@dataclass(frozen=True)
class RolloutSampling:
    """What a roll-out row samples: full softmax at ``temperature`` (0: argmax) to a boundary."""

    boundaries: str
    max_tokens: int
    temperature: float
    generator: torch.Generator  # the roll-out's own draws, apart from the candidates'

    @classmethod
    def seeded(
        cls, boundaries: str, max_tokens: int, temperature: float, seed: int
    ) -> RolloutSampling:
        """A roll-out whose draws come from a generator seeded with ``seed``."""
        return cls(boundaries, max_tokens, temperature, torch.Generator().manual_seed(seed))


def pick(logits: torch.Tensor, generator: torch.Generator | None) -> int:
    """Argmax without a generator, else a draw from the softmax of ``logits``."""
    if generator is None:
        return int(logits.argmax())
    probs = torch.softmax(logits.float().cpu(), dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


def draw_rollout(logits: torch.Tensor, rollout: RolloutSampling) -> int:
    """The roll-out's next token: argmax at temperature 0, else a draw at its temperature."""
    if rollout.temperature == 0:
        return pick(logits, None)
    return pick(logits / rollout.temperature, rollout.generator)


def draw_sets(
    rows: list[SampleRow],
    logits: torch.Tensor,
    req: ProposalRequest | None,
    generator: torch.Generator | None,
    vocab: int,
) -> None:
    """One top-k draw per set row from its cache row's logits (the greedy row: argmax).

    ``logits`` is (cache rows, vocab); each row draws from its ``owner``'s, and only the
    owners' rows are ranked (1 ms per 8 rows of a 49k vocabulary on one thread). The drawn token
    is appended to the row and its log-probability (temperature 1, top-``top_k``
    renormalised) added to the row's.
    """
    if not rows or req is None:
        return
    owners = [row.owner for row in rows]
    distinct = sorted(set(owners))  # a pooled walk's logits hold every search's rows
    values, indices = logits[distinct].topk(min(req.top_k, vocab), dim=-1)  # sorted
    at = {owner: i for i, owner in enumerate(distinct)}
    picked = torch.tensor([at[owner] for owner in owners])
    values, indices = values.cpu()[picked], indices.cpu()[picked]
    logp = torch.log_softmax(values, dim=-1)
    picks = torch.multinomial(
        torch.softmax(values / req.temperature, dim=-1), 1, generator=generator
    )
    for j, row in enumerate(rows):
        if row.greedy:
            picks[j, 0] = 0  # column 0 is the argmax
    tokens = indices.gather(1, picks).squeeze(1).tolist()
    step_logp = logp.gather(1, picks).squeeze(1).tolist()
    for row, token, lp in zip(rows, tokens, step_logp, strict=True):
        row.tokens.append(token)
        row.logprob += lp


def top_tokens(logits: torch.Tensor, req: ProposalRequest, vocab: int) -> list[Candidate]:
    """One-token sets: the most likely tokens not excluded, best first.

    The log-probability is the full softmax probability renormalised over the top
    ``top_k`` tokens, the pool longer sets draw from.
    """
    logp = torch.log_softmax(logits, dim=-1)
    log_pool = torch.logsumexp(logp.topk(min(req.top_k, vocab)).values, dim=0)
    wanted = min(vocab, req.num_candidates + len(req.exclude))
    out = []
    for token in logp.topk(wanted).indices.tolist():
        if (token,) not in req.exclude:
            out.append(Candidate((token,), min(0.0, float(logp[token] - log_pool))))
        if len(out) == req.num_candidates:
            break
    return out
