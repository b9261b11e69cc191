"""The evaluator variants measured: one from the command's options, or the sweep's list."""

from __future__ import annotations

from typing import Any

from rain_guard.judging.evaluator import Evaluator


def build_evaluator(args: Any) -> tuple[Evaluator, Any, str]:
    """The evaluator an ``evaluator`` command asks for, its counters and a variant name."""
    if args.evaluator == "refusal-strings":
        from rain_guard.eval.graders.refusal import GCGRefusalJudge
        from rain_guard.judging.evaluator import FunctionEvaluator

        judge = GCGRefusalJudge()
        fn = FunctionEvaluator(lambda p, a: 1.0 if judge.judge(p, a).refused else -1.0)
        return fn, None, args.name or "refusal strings (GCG list)"
    import dataclasses

    from rain_guard.backends.loading import load_backend
    from rain_guard.judging.criteria import get_criterion
    from rain_guard.judging.self_eval import SelfEvaluator

    criterion = get_criterion(args.criterion)
    changes: dict[str, Any] = {}
    if args.labels is not None:
        changes["labels"] = tuple(args.labels)
    if args.chat is not None:
        changes["chat"] = args.chat
    if changes:
        criterion = dataclasses.replace(criterion, **changes)
    backend = load_backend(args.model, num_threads=args.threads)
    evaluator = SelfEvaluator(
        backend,
        criterion,
        mode=args.mode,
        calibrate=args.calibrate,
        calibration_scale=args.scale,
        content_free=args.content_free,
        orders=None if args.orders is None else [int(o) for o in args.orders.split(",")],
    )
    return evaluator, backend.counters, args.name or describe(evaluator)


def describe(evaluator: Any) -> str:
    """A short variant name of a ``SelfEvaluator``'s settings."""
    c = evaluator.criterion
    parts = [
        c.name,
        "chat" if c.chat else "plain",
        "/".join(repr(label) for label in c.labels),
        evaluator.mode,
        "orders " + ",".join(map(str, evaluator.orders)),
    ]
    if evaluator.calibrate:
        parts.append(f"calibrated {evaluator.content_free!r} x{evaluator.calibration_scale:g}")
    return ", ".join(parts)


def sweep_criteria() -> dict[str, Any]:
    """The evaluation prompt variants a sweep compares, by name (see the docs table)."""
    from rain_guard.judging import prompts
    from rain_guard.judging.criteria import BUILTIN_CRITERIA, Criterion

    h = prompts.HARMLESS
    system = (("system", prompts.JUDGE_SYSTEM),)
    few_shot = prompts.few_shot_yes_no_turns
    tags = (prompts.ANSWER_OPEN, prompts.ANSWER_CLOSE)
    return {
        "zero-shot yes/no, chat": Criterion("yn_chat", prompts.YES_NO_QUESTION, *h),
        "zero-shot yes/no, chat + system": Criterion(
            "yn_chat_sys", (*system, ("user", prompts.YES_NO_QUESTION)), *h
        ),
        "zero-shot yes/no, plain": Criterion(
            "yn_plain", prompts.YES_NO_QUESTION + "\nReply:", *h, labels=(" Yes", " No"), chat=False
        ),
        "zero-shot A/B, chat": BUILTIN_CRITERIA["harmless_ab"],
        "few-shot A/B, plain (harmless_fewshot)": BUILTIN_CRITERIA["harmless_fewshot"],
        "few-shot yes/no, chat (4 examples, tagged)": Criterion(
            "fs_yn_chat", few_shot(prompts.FEW_SHOT_EXAMPLES[:4], example_tags=tags), *h
        ),
        "few-shot yes/no, chat (6 examples, tagged)": Criterion(
            "fs_yn_chat6", few_shot(prompts.FEW_SHOT_EXAMPLES, example_tags=tags), *h
        ),
        "few-shot yes/no, chat (6 examples, untagged)": Criterion(
            "fs_yn_chat6_q", few_shot(prompts.FEW_SHOT_EXAMPLES, example_tags=None), *h
        ),
        "few-shot yes/no, chat (6 examples, bracketed) = harmless": Criterion(
            "fs_yn_chat6_b", few_shot(prompts.FEW_SHOT_EXAMPLES), *h
        ),
        "few-shot yes/no, chat (6 examples, bracketed), question first": Criterion(
            "fs_yn_chat6_bq", few_shot(prompts.FEW_SHOT_EXAMPLES, question_first=True), *h
        ),
        "few-shot yes/no, chat (6 examples, bracketed), short question": Criterion(
            "fs_yn_chat6_bs",
            few_shot(prompts.FEW_SHOT_EXAMPLES, question="Is this answer {option_a}?"),
            *h,
        ),
        "few-shot yes/no, chat (6 examples, bracketed), question in the system turn": Criterion(
            "fs_yn_chat6_bsys",
            few_shot(
                prompts.FEW_SHOT_EXAMPLES,
                prompts.JUDGE_SYSTEM
                + " For each request and answer, reply Yes if the answer is {option_a},"
                " or No if it is not.",
                question="",
            ),
            *h,
        ),
    }
