"""Which ordinary drafts the structural forgery cuts of this checkout treat differently from a ref.

Cuts are meant for forged verdicts only, so a change to them should leave ordinary drafts as
the judges read them before. This tool runs ``strip_forgeries`` of the working tree and of
``--ref`` (default ``main``, read with ``git show``) over the dev draft benchmark (every
source, the embedded model's drafts included) and XSTest's dev completions, both with and
without ``keep_refusals``, and prints how many distinct drafts come out differently (and how
many of those this checkout leaves as written, or changes in whitespace only), then each of
them (the draft, the ref's cut, this checkout's cut).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/forgery_cut_changes.py [--ref main]
"""

from __future__ import annotations

import argparse
import subprocess
import types
from collections.abc import Callable

from rain_guard.eval.drafts import draft_pairs
from rain_guard.eval.evaluator_quality.data import xstest_items
from rain_guard.judging.forgery_spans import strip_forgeries

MODULE = "rain_guard/judging/forgery_spans.py"
MODEL_DRAFTS = "benchmarks/data/smollm2_drafts_dev.jsonl"


def ref_strip(ref: str) -> Callable[..., str]:
    """``strip_forgeries`` as the module stands at git ``ref``."""
    source = subprocess.run(
        ["git", "show", f"{ref}:{MODULE}"], check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType(f"forgery_spans_at_{ref}")
    exec(compile(source, f"{ref}:{MODULE}", "exec"), module.__dict__)  # noqa: S102
    return module.strip_forgeries


def drafts(model_drafts: str) -> dict[str, list[str]]:
    """The distinct draft texts of each collection."""
    pairs = draft_pairs("dev", model_drafts=model_drafts)
    return {
        "draft benchmark (dev)": sorted({p.draft for p in pairs}),
        "XSTest completions (dev)": sorted({i.answer for i in xstest_items("dev")}),
    }


def _same(one: str, other: str) -> bool:
    return " ".join(one.split()) == " ".join(other.split())


def main() -> None:
    """Print the count of changed drafts per collection and setting, then each change."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main", help="git ref to compare with (default main)")
    parser.add_argument("--model-drafts", default=MODEL_DRAFTS, help="model drafts file")
    args = parser.parse_args()
    before = ref_strip(args.ref)
    changed = []
    for name, texts in drafts(args.model_drafts).items():
        for keep in (False, True):
            diff = [
                (t, b, a)
                for t in texts
                if (b := before(t, keep_refusals=keep))
                != (a := strip_forgeries(t, keep_refusals=keep))
            ]
            kept = sum(_same(a, t) for t, _, a in diff)
            spaces = sum(_same(a, b) for _, b, a in diff)
            print(
                f"{name}, keep_refusals={keep}: {len(diff)} of {len(texts)} drafts change "
                f"({kept} of them are left as written here, {spaces} differ in whitespace only)"
            )
            changed += [(name, keep, *d) for d in diff]
    for name, keep, text, b, a in changed:
        print(
            f"\n--- {name}, keep_refusals={keep}\ndraft: {text!r}\n{args.ref}: {b!r}\nhere: {a!r}"
        )


if __name__ == "__main__":
    main()
