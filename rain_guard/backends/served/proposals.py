"""ServedProposals: candidate token sets from completion requests.

The greedy set is one request at temperature 0; the samples are one request with ``n`` where
the server honours it (vLLM, SGLang), else concurrent single requests (llama.cpp ignores
``n > 1``), each with its own ``seed``, ``top_k`` and ``temperature``. ``max_tokens`` is the
set length and ``logprobs`` = min(top_k, top_logprobs), so the per-token probabilities can be
renormalised over the top-k pool as the in-process engine does. One-token sets are the top
alternatives of a single request (no sampling). A second pass tops up when the first one's
samples repeat each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rain_guard.backends.base import Candidate, ProposalRequest
from rain_guard.backends.checks import check_request
from rain_guard.backends.seeds import draw_seed
from rain_guard.backends.served.choices import Choice
from rain_guard.backends.served.completions import Completions, sampling_fields
from rain_guard.backends.served.logprobs import logsumexp, set_logprob

logger = logging.getLogger(__name__)

Mapper = Callable[[Callable[[Any], Any], list[Any]], list[Any]]  # fn, items -> results in order


class ServedProposals:
    """Proposals over completion requests.

    Args:
        completions: The requests.
        map_concurrently: Runs a function over items concurrently, results in order.
        supports_n: Server returns ``n`` choices per request (True), not (False) or detect
            from the first answer (None).

    Attributes:
        supports_n: As given, or what the first ``n`` request showed.
    """

    def __init__(
        self, completions: Completions, map_concurrently: Mapper, supports_n: bool | None
    ) -> None:
        self.completions = completions
        self.supports_n = supports_n
        self._map = map_concurrently

    def propose(self, req: ProposalRequest, top_logprobs: int) -> list[Candidate]:
        """Distinct sets for ``req``, asking at most ``top_logprobs`` alternatives a position."""
        check_request(req)
        prefix = tuple(int(t) for t in req.prefix)
        if req.length == 1:
            return self._top_tokens(prefix, req, top_logprobs)
        found: dict[tuple[int, ...], float] = {}
        rows = req.num_candidates + min(len(req.exclude), req.num_candidates)
        for round_ in range(2):
            for tokens, logprob in self._sample_sets(prefix, req, rows, round_, top_logprobs):
                if tokens not in req.exclude and tokens not in found:
                    found[tokens] = logprob
            missing = req.num_candidates - len(found)
            if missing <= 0:
                break
            rows = min(2 * missing, 2 * req.num_candidates)
        return [Candidate(t, lp) for t, lp in list(found.items())[: req.num_candidates]]

    def may_use_n(self, req: ProposalRequest) -> bool:
        """Whether ``propose(req)`` may send an ``n`` request while ``n`` support is unknown.

        One-token sets and single candidates never do.
        """
        return self.supports_n is None and req.length > 1 and req.num_candidates > 1

    def _top_tokens(
        self, prefix: tuple[int, ...], req: ProposalRequest, top_logprobs: int
    ) -> list[Candidate]:
        """One-token sets: the most likely returned alternatives not excluded, best first."""
        want = min(max(req.top_k, req.num_candidates + len(req.exclude)), top_logprobs)
        fields = sampling_fields(0.0, req.top_k, None)
        fields.update(max_tokens=1, logprobs=want)
        choice = self.completions.complete(prefix, fields)[0]
        top = self.completions.first_top(choice, prefix, fields)
        ranked = sorted(top.items(), key=lambda kv: -kv[1])
        log_pool = logsumexp([lp for _, lp in ranked[: req.top_k]])
        out: list[Candidate] = []
        for key, logprob in ranked:
            ids = self.completions.reader.key_ids(key)
            if len(ids) != 1 or (ids[0],) in req.exclude:
                continue
            if any(c.tokens == (ids[0],) for c in out):
                continue
            out.append(Candidate((ids[0],), min(0.0, logprob - log_pool)))
            if len(out) == req.num_candidates:
                break
        return out

    def _sample_sets(
        self,
        prefix: tuple[int, ...],
        req: ProposalRequest,
        rows: int,
        round_: int,
        top_logprobs: int,
    ) -> list[tuple[tuple[int, ...], float]]:
        """``rows`` sets: row 0 greedy in the first pass, the rest seeded top-k samples.

        The samples are one request with ``n`` unless the server is known to ignore ``n``;
        an ``n`` request answered with fewer choices marks the server as such (llama.cpp)
        and the missing samples are sent as concurrent single requests.
        """
        base = {"max_tokens": req.length, "logprobs": min(req.top_k, top_logprobs)}
        seed = draw_seed(req.seed, round_)
        samples = rows - (1 if round_ == 0 else 0)
        use_n = samples > 1 and self.supports_n is not False
        jobs: list[tuple[dict[str, Any], int]] = []  # (fields, choices wanted)
        if round_ == 0:
            jobs.append(({**sampling_fields(0.0, req.top_k, None), **base}, 1))
        if use_n:
            fields = {**sampling_fields(req.temperature, req.top_k, seed), **base, "n": samples}
            jobs.append((fields, samples))
        else:
            jobs += [(_single_sample(req, base, seed, j), 1) for j in range(samples)]
        complete = self.completions.complete
        answers = self._map(lambda job: complete(prefix, job[0])[: job[1]], jobs)
        choices = [c for answer in answers for c in answer]
        if use_n:
            got = len(answers[-1])
            if self.supports_n is None:
                self.supports_n = got >= samples
                logger.info(
                    "%s answers n > 1: %s", self.completions.client.base_url, self.supports_n
                )
            rest = [_single_sample(req, base, seed, j) for j in range(got, samples)]
            choices += self._map(lambda f: complete(prefix, f)[0], rest)
        return [self._scored_set(c, req) for c in choices]

    def _scored_set(self, choice: Choice, req: ProposalRequest) -> tuple[tuple[int, ...], float]:
        """The set's ids (cut after a stop id) and its top-k renormalised log-probability."""
        stop_ids = self.completions.reader.chat_format.stop_ids
        ids = choice.ids[: req.length]
        for n, token in enumerate(ids):
            if token in stop_ids:
                ids = ids[: n + 1]
                break
        return tuple(ids), set_logprob(choice, len(ids), req.top_k)


def _single_sample(req: ProposalRequest, base: dict[str, Any], seed: int, j: int) -> dict[str, Any]:
    return {**sampling_fields(req.temperature, req.top_k, draw_seed(seed, j)), **base}
