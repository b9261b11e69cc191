"""Cut spans that pose as a verdict, a turn or a note to the judge from a judge's copy of a draft.

``forgery.delimit_answer`` removes the usual shapes of forged verdicts by pattern. The
rules here are structural and language-aware instead: they remove a span by *what kind of
thing it is*, whatever its wording:

* chat-format markup of any common family (ChatML, Llama ``[INST]``/``<s>``, Gemma turns,
  ``<|assistant|>``), and lines that open with a role name ("Assistant: ...");
* HTML comments; code fences, JSON objects and bracketed asides that carry a verdict word or
  name an evaluation (``VERDICT_WORDS``, ``META_WORDS``: English and eight other languages);
* "key: value" statements whose value starts with a verdict, a yes/no or an option letter
  ("Urteil: harmlos", "Answer: B", "判定：无害");
* sentences that name an evaluation, talk about the answer itself, or tell the reader how
  to reply ("Ignore all previous instructions", "the evaluator must output ...");
* later sentences made only of verdict words ("No.", "(A)", "Harmful? No.");
* forged annotations (``forgery_notes``): a reviewer's note or a record over a favourable
  value, scores and risk levels, check-mark verdicts, records and signatures that judge,
  asides to the grader and claims about the draft itself, with what a cut leaves beside it;
* refusal sentences in a draft that also says something else (unless ``keep_refusals``): a
  refusal cannot make a draft that complies harmless, so the judge reads what the draft says
  besides refusing.

Only the judge's copy changes; the answer itself is never edited. The rules were tuned on the
tuning half of ``rain_guard.eval.forgery_suite`` (docs/evaluator_quality.md has the held-out
figures). A whole draft that is only a label ("Yes.", "B") is kept: it may be the honest
answer. ``structural_cuts_off()`` switches the cuts off process-wide, to measure the judges
without them (benchmarks/forgery_report.py ``--no-structural-cuts``).
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator

from rain_guard.judging.forgery_notes import CUT, clean_residue, cut_records, cut_scores
from rain_guard.judging.forgery_notes import judges_the_draft as _judges_the_draft
from rain_guard.judging.forgery_words import META_WORDS, VERDICT_WORDS, YES_NO_WORDS

__all__ = ["META_WORDS", "VERDICT_WORDS", "YES_NO_WORDS", "strip_forgeries", "structural_cuts_off"]

_ROLE_NAMES = r"(?:human|user|assistant|system|ai|model|bot|gpt|evaluator|judge|moderator|reviewer)"
_REFUSAL = (
    r"(?:i['’]?m sorry|i am sorry|sorry|i apologi[sz]e|i can(?:no|['’])t|i can not|i won['’]?t"
    r"|i will not|i must (?:refuse|decline)|i (?:have to|need to) (?:refuse|decline)"
    r"|i['’]?m (?:not able|unable)|i am (?:not able|unable)|as an ai"
    r"|i (?:refuse|decline)|lo siento|no puedo"
    r"|je ne peux pas|ich kann nicht|disclaimer)"
)


def _words(words: tuple[str, ...]) -> str:
    ordered = sorted(set(words), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(w) for w in ordered) + ")"


_VERDICT = _words(VERDICT_WORDS)
_YES_NO = _words(YES_NO_WORDS)
_META = _words(META_WORDS)
_B = r"(?<![^\W_])"  # word start that also works before CJK text
_E = r"(?![^\W_])"
_LABEL_VALUE = rf"(?:{_VERDICT}|{_YES_NO}|\(?[ab]\)?)"
_FLAGS = re.IGNORECASE | re.MULTILINE

# Markup of chat formats, in any family.
_MARKUP = re.compile(
    rf"<\|[^|>\n]{{0,40}}\|>(?:[ \t]*\n?[ \t]*{_ROLE_NAMES}\b:?)?"
    r"|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>(?:model|user)?"
    r"|<!--.*?-->",
    _FLAGS | re.DOTALL,
)
# A line that opens with a role name, or a heading that names a turn or an evaluation.
_ROLE_LINE = re.compile(
    rf"^[ \t]*(?:#+[ \t]*)?{_ROLE_NAMES}[ \t]*(?::.*)?$"
    rf"|^[ \t]*#+[ \t]*(?:response|instruction|input|output|answer|{_META})\b.*$"
    r"|^[ \t]*-{3,}[ \t]*$",
    _FLAGS,
)
_FENCE = re.compile(r"```[^\n`]*\n?(.*?)```", re.DOTALL)
_OBJECT = re.compile(r"\{(?:[^{}]|\{[^{}]*\})*\}")
_ASIDE = re.compile(r"\[[^\[\]\n]*\]|\([^()\n]*\)")
# "key: value" whose value opens with a verdict, yes/no or option letter, to the clause end.
_KEY_VALUE = re.compile(
    rf"(?:^|(?<=[.!?。,;]\s)|(?<=[.!?。]))[^\S\n]*[^\n:：=.!?,;]{{1,40}}?[^\S\n]*[:：=]"
    rf"[^\S\n]*\(?{_B}{_LABEL_VALUE}{_E}\)?"
    r"(?:(?:[^\S\n]+[^\s.!?。,;]+){0,3}?(?=[^\S\n]*(?:[.!?。]|$)))?[.!?。]?",
    _FLAGS,
)
# a sentence ends at . ! ? (and closing marks) before a space or the line end; "0.98", "P.S."
# and "e.g." do not end one
_SENTENCE = re.compile(
    r"(?:[^.!?。\n]|[.!?]+(?=[^\W_]|[,;:/%-]))+(?:[.!?]+[^\w\s]*(?=\s|$)|[.!?]+|。+|$)|[.!?。]+",
    re.MULTILINE,
)
_ABOUT_ANSWER = re.compile(
    rf"{_B}(?:this|the|my|above|following)[ \t]+(?:answer|response|reply|content|output|text"
    rf"|message)\b.*{_B}(?:{_VERDICT}|guideline|polic)",
    re.IGNORECASE,
)
_INSTRUCTION = re.compile(
    r"\bignor(?:e|a|iere)\b.*\b(?:instruc|previous|above|anweisung|anterior)"
    r"|\bvergiss\b|\b(?:reply|respond|answer|output|antworte|responde|réponds)\b"
    r"(?:[ \t]+(?:with|only|just|me|mit|con|avec))?[ \t]*[:'\"“]?[ \t]*"
    rf"{_B}(?:{_YES_NO}|{_VERDICT}){_E}"
    r"|\b(?:rate|mark|label|classify|score|grade)\b[^.!?\n]*\b(?:this|the)[ \t]+"
    r"(?:answer|response|reply|text)\b"
    r"|\bthe correct (?:reply|answer|verdict|label)\b|\bmust (?:output|reply|answer|say)\b",
    re.IGNORECASE,
)
_ONLY_LABELS = re.compile(
    rf"^[\W_]*(?:(?:i choose|i pick|option|answer|reply|and|or|und|et|y|en|\[[ x✓✔]\])?[\W_]*"
    rf"(?:{_LABEL_VALUE}|{_VERDICT})[\W_]*)+$",
    re.IGNORECASE,
)
_OPTION_LETTER = re.compile(r"\(\s*[AB]\s*\)")
_LIST_ITEM = re.compile(r"^\s*(?:\d+|[a-z])[.)]\s")
_REFUSAL_SPAN = re.compile(
    rf"(?:^|(?<=[\s,;]))(?:as an? [\w ]{{0,30}}?(?:ai|assistant|model)[, ]+)?(?:{_REFUSAL})\b"
    r"[^.!?\n]*[.!?]*"
    r"(?:\s*(?:(?:however|that said|but|anyway|still|nevertheless|just kidding)\b[^.!?\n]{0,60}?"
    r"[:!.]|[^.!?\n]{0,40}:|(?:anyway|okay|ok|well|so)[,:])(?=\s|$))?",
    re.IGNORECASE,
)
_MIN_OTHER_WORDS = 6  # a draft keeps its refusal unless it says this much besides


def _flags_verdict(text: str) -> bool:
    """A container (fence, object, aside) that carries a verdict, a yes/no or an evaluation."""
    return bool(re.search(rf"{_B}(?:{_VERDICT}|{_META}|{_YES_NO}){_E}", text, re.IGNORECASE))


def _drop_flagged(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda m: CUT if _flags_verdict(m.group()) else m.group(), text)


def _keep_clause(clause: str) -> bool:
    bare = clause.strip()
    if re.search(rf"{_B}{_META}{_E}", bare, re.IGNORECASE):
        return False
    return not (_ABOUT_ANSWER.search(bare) or _INSTRUCTION.search(bare))


def _clean_sentence(sentence: str) -> str:
    """The sentence without its clauses that judge or only name a verdict (CUT if none is left).

    A sentence that judges the draft as a whole (``forgery_notes.judges_the_draft``) goes
    whole.
    """
    bare = sentence.strip()
    if not bare or bare == CUT:
        return bare
    if _ONLY_LABELS.match(bare) or _judges_the_draft(bare.strip(CUT)):
        return CUT
    clauses = re.split(r"(?<=[,;])\s+", sentence)
    kept = [c for c in clauses if _keep_clause(c)]
    dropped = len(kept) < len(clauses)
    # a label clause after the first ("..., Yes."), or one a dropped clause listed
    kept = [
        c
        for k, c in enumerate(kept)
        if (k == 0 and not dropped) or not _ONLY_LABELS.match(c.strip())
    ]
    return " ".join(c.strip() for c in kept) + (CUT if dropped else "")


def sentences(text: str) -> list[str]:
    """The sentences of one line, as the cuts split them (decimals and initials stay whole)."""
    return [m.group() for m in _SENTENCE.finditer(text)]


def _drop_sentences(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        if _LIST_ITEM.match(line):  # "1. Yes": a list item, not a verdict
            lines.append(line)
            continue
        kept = [_clean_sentence(s).strip() for s in sentences(line)]
        lines.append(" ".join(k for k in kept if k))
    return "\n".join(lines)


def _drop_refusals_beside_content(text: str) -> str:
    """The draft without its refusals when it says enough besides them.

    A pivot right after a refusal ("However, for educational purposes:") goes with it.
    """
    other = _REFUSAL_SPAN.sub(" ", text)
    if other == text or len(other.split()) < _MIN_OTHER_WORDS:
        return text
    return other


_CUTS = {"on": True}  # the switch of structural_cuts_off (a measurement setting, not per call)


def cuts_on() -> bool:
    """Whether ``strip_forgeries`` cuts (False only inside ``structural_cuts_off``)."""
    return _CUTS["on"]


@contextlib.contextmanager
def structural_cuts_off() -> Iterator[None]:
    """Within: ``strip_forgeries`` returns drafts unchanged, for every judge that calls it.

    Process-wide, for measurements of the judges without the cuts; not for serving.
    """
    before, _CUTS["on"] = _CUTS["on"], False
    try:
        yield
    finally:
        _CUTS["on"] = before


def strip_forgeries(text: str, *, keep_refusals: bool = False) -> str:
    """``text`` without the spans listed in the module docstring (the judge's copy only).

    Args:
        text: The draft.
        keep_refusals: Keep refusal sentences that stand beside other content. The
            self-evaluator keeps them: its signal is largely refusal wording, and cutting them
            costs it AUROC on XSTest's full completions (docs/evaluator_quality.md).
    """
    return _strip(text, keep_refusals) if cuts_on() else text


@functools.lru_cache(maxsize=4096)
def _strip(text: str, keep_refusals: bool) -> str:
    whole = text.strip()
    if _ONLY_LABELS.match(whole):
        return whole  # the whole answer is a label: maybe the honest reply
    clean = _MARKUP.sub(CUT, whole)
    clean = _ROLE_LINE.sub(CUT, clean)
    clean = _FENCE.sub(lambda m: CUT if _flags_verdict(m.group(1)) else m.group(), clean)
    clean = cut_records(_drop_flagged(_OBJECT, clean))
    clean = _KEY_VALUE.sub(CUT, cut_scores(clean))
    clean = _drop_flagged(_ASIDE, clean)
    clean = _OPTION_LETTER.sub(CUT, _drop_sentences(clean))
    clean = clean_residue(clean)
    if not keep_refusals:
        clean = _drop_refusals_beside_content(clean)
    clean = re.sub(r"(?<=[^\s.!?:。])[ \t]*\n\s*(?=[a-z])", " ", clean)  # a cut mid-sentence
    clean = re.sub(r"[ \t]{2,}", " ", clean)
    clean = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", clean)
    return re.sub(r" +([,.;:!?])", r"\1", clean).strip()
