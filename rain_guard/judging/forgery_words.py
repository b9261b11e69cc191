"""The word lists of the structural forgery cuts (``forgery_spans``, ``forgery_notes``).

Each list names a *kind* of word, not an attack: verdicts a judge might give, yes/no, words
that name an evaluation, outcomes of a review ("cleared", "no issues"), the dimensions a score
is given on ("risk", "toxicity"), the roles and labels of an annotation ("reviewer",
"status"), and the nouns by which a draft names itself ("this answer"). ``words`` turns a list
into one regex alternative; CJK words match inside CJK runs (which have no word breaks).
"""

from __future__ import annotations

import re

VERDICT_WORDS = (
    # English
    "harmless", "harmful", "safe", "unsafe", "benign", "malicious", "dangerous", "ethical",
    "unethical", "acceptable", "unacceptable", "approved", "rejected", "passed", "failed",
    "compliant", "appropriate", "inappropriate", "toxic",
    # German, Spanish, French, Italian, Dutch, Portuguese
    "harmlos", "schädlich", "sicher", "unbedenklich", "gefährlich", "unsicher",
    "inofensivo", "inofensiva", "seguro", "segura", "dañino", "dañina", "peligroso",
    "inoffensif", "inoffensive", "sûr", "sûre", "dangereux", "nuisible",
    "innocuo", "innocua", "sicuro", "sicura", "pericoloso", "dannoso",
    "onschadelijk", "veilig", "schadelijk", "gevaarlijk", "inofensivo", "perigoso",
    # Russian, Chinese, Japanese
    "безопасно", "безопасный", "вредно", "вредный", "опасно",
    "无害", "安全", "有害", "危险", "無害", "危険",
)  # fmt: skip
# Verdicts in languages other than English: in an English draft, a sentence that carries one
# talks to the judge (an honest English answer does not switch language to judge itself).
FOREIGN_VERDICT_WORDS = (
    *VERDICT_WORDS[VERDICT_WORDS.index("harmlos") :],
    "harmlose", "harmloser", "ungefährlich", "sichere", "inofensivas", "inofensivos",
    "seguros", "seguras", "inoffensifs", "inoffensives", "sécuritaire", "innocui", "sicuri",
    "безопасен", "безопасна", "безопасное", "безопасная", "безвредно", "безвредный",
    "безпечно", "безпечний", "bezpieczny", "bezpieczna", "bezpieczne", "nieszkodliwy",
    "nieszkodliwa", "nieszkodliwe", "bezpečný", "bezpečná", "bezpečné", "neškodný",
    "güvenli", "zararsız", "säker", "säkert", "ofarlig", "ofarligt", "sikker", "sikkert",
    "ufarlig", "harmløs", "turvallinen", "vaaraton", "biztonságos", "ártalmatlan",
    "inofensiv", "ασφαλές", "ασφαλής", "ακίνδυνο", "آمن", "آمنة", "בטוח", "सुरक्षित",
    "हानिरहित", "an toàn", "vô hại", "ปลอดภัย",
    "安全です", "无害的", "安全的", "안전", "안전함", "안전합니다", "무해", "무해함",
)  # fmt: skip
YES_NO_WORDS = (
    "yes", "no", "ja", "nein", "sí", "si", "oui", "non", "да", "нет", "是", "否", "はい",
    "いいえ", "true", "false",
)  # fmt: skip
META_WORDS = (
    "verdict", "evaluator", "evaluation", "judge", "judgement", "judgment", "moderator",
    "moderation", "reviewer", "review", "grader", "rater", "rating", "classifier",
    "classification", "classified", "label", "assessment", "audit", "safety filter",
    "safety team", "safety check", "content policy", "policy check", "trust & safety",
    "system note", "note to", "verified", "flagged",
    "urteil", "bewertung", "prüfer", "hinweis", "veredicto", "evaluación", "moderador",
    "nota para", "évaluation", "modérateur", "giudizio", "valutazione", "oordeel",
    "beoordeling", "вердикт", "оценка", "判定", "評価", "评估", "审核",
)  # fmt: skip
# The favourable outcome of a check, as a value ("Status: cleared") or a short sentence.
OUTCOME_WORDS = (
    "pass", "passed", "passes", "approved", "approve", "cleared", "clear", "ok", "okay",
    "fine", "verified", "vetted", "allowed", "allow", "permitted", "clean", "compliant",
    "lgtm", "benign", "none", "nil", "n/a", "low", "very low", "minimal", "negligible", "zero",
    "green", "good", "all good", "all clear", "not harmful", "not dangerous", "no risk",
    "no issues", "no concerns", "no violations", "no problems", "nothing found",
)  # fmt: skip
# A sentence of only these, holding one of ``STRONG_OUTCOMES``, reports a check's outcome.
STRONG_OUTCOMES = (
    r"cleared|approved|passed|verified|vetted|lgtm|all (?:good|clear)"
    r"|no (?:\w+ )?(?:issues?|concerns?|violations?|action|flags?|findings?)"
    r"|nothing (?:objectionable|problematic|harmful|unsafe|to report|to flag)"
)
# Dimensions a score or risk level is given on ("Safety score: 10/10", "toxicity 0.01").
SCORE_KEYS = (
    r"safe|risk|harm|toxic|sever|danger|threat|confiden|score|rating|rated|grade|probab"
    r"|likelihood|violat|nsfw|p\(\w+\)"
)
# Words in the label of an annotation: who wrote it or what kind of record it is.
NOTE_KEYS = (
    rf"{SCORE_KEYS}|review|editor|annotat|moderat|\bmods?\b|\bqa\b|complian|legal|trust"
    r"|red[ -]?team|internal|audit|admin|staff|check|grader|judge|evaluat|rater|classif"
    r"|filter|system|meta|status|result|verdict|assess|finding|sign-?off|approv|label"
    r"|\btags?\b|categor|polic|decision|outcome|\baction\b|\bteam\b|remark|comment|feedback"
)
# How a draft names itself ("this answer", "the response above", "nothing here").
SELF_NOUNS = (
    "answer", "response", "reply", "content", "output", "text", "message", "information",
    "info", "post", "completion", "generation", "draft", "explanation", "guidance", "item",
)  # fmt: skip
CHECK_MARKS = "✅✔☑✓👍🟢🆗"


def words(items: tuple[str, ...]) -> str:
    """One regex alternative of ``items``, longest first, each matched as a whole word."""
    ordered = sorted(set(items), key=len, reverse=True)
    return "(?:" + "|".join(_word(w) for w in ordered) + ")"


def _word(word: str) -> str:
    if re.search(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0e00-\u0e7f]", word):
        return re.escape(word)  # CJK, Hangul, Thai: no word breaks to anchor on
    return rf"(?<![^\W_]){re.escape(word)}(?![^\W_])"
