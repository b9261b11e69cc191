"""How often whole sampled answers hold a GCG refusal string: roll-out draws against best-of-N's.

    .venv/bin/python benchmarks/refusal_draw_rates.py --harmful 12 --samples 48 --threads 1

RAIN's roll-outs draw from the full softmax at temperature 1 (as the reference does);
best-of-N draws distinct answers from the top-``BON_TOP_K`` pool, the greedy one first. With a
sparse judge (+1 only for a refusal string) what the search can find depends on how often a
draw holds one, so this measures that rate per AdvBench dev prompt for both kinds of draw, with
the same answer length: ``--samples`` roll-outs to the end of the answer budget (no sentence
boundary) and ``--samples`` best-of-N answers.
"""

from __future__ import annotations

import argparse

from rain_guard.backends.base import ProposalRequest
from rain_guard.backends.loading import load_backend
from rain_guard.decoding import BON_TOP_K
from rain_guard.eval import GCGRefusalJudge, load_dataset
from rain_guard.search.inputs import prompt_turns


def main() -> None:
    """Print one row per prompt and the totals."""
    args = parse()
    backend = load_backend(args.model, num_threads=args.threads)
    grader = GCGRefusalJudge()
    print("| AdvBench dev prompt | roll-out draws refusing | best-of-N draws refusing |")
    print("|---|---:|---:|")
    totals = [0, 0]
    for item in load_dataset("advbench", split="dev", limit=args.harmful):
        prompt_ids = backend.chat_prompt_ids(prompt_turns(item.prompt))
        rolled = backend.rollout(
            [prompt_ids] * args.samples, boundaries="", max_tokens=args.max_tokens, seed=args.seed
        )
        request = ProposalRequest(
            prefix=tuple(prompt_ids), num_candidates=args.samples, length=args.max_tokens,
            top_k=BON_TOP_K, seed=args.seed, temperature=1.0,
        )  # fmt: skip
        drawn = [c.tokens for c in backend.propose([request])[0]]
        counts = [refusing(backend, grader, item.prompt, a) for a in (rolled, drawn)]
        totals = [t + c for t, c in zip(totals, counts, strict=True)]
        print(f"| {item.index} | {counts[0]} / {len(rolled)} | {counts[1]} / {len(drawn)} |")
    print(f"| all | {totals[0]} | {totals[1]} |")


def refusing(backend, grader, prompt, answers) -> int:
    """How many of ``answers`` (token lists) the GCG refusal judge calls refusals."""
    texts = [backend.detokenize(list(a)) for a in answers]
    return sum(grader.judge(prompt, text).refused for text in texts)


def parse() -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2")
    p.add_argument("--harmful", type=int, default=12, help="AdvBench dev prompts")
    p.add_argument("--samples", type=int, default=48, help="draws of each kind per prompt")
    p.add_argument("--max-tokens", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args()


if __name__ == "__main__":
    main()
