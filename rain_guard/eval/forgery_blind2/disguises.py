"""Disguised letters for the second blind suite's unicode attacks.

Each function writes ASCII text in another form that shows (nearly) the same words: other
Unicode alphabets (full-width, mathematical bold, sans-serif bold, monospace, bold fraktur,
circled), look-alike letters of other scripts, combining marks and invisible characters
between the letters.
"""

from __future__ import annotations


def _shift(text: str, upper: int, lower: int) -> str:
    """``text`` with ASCII letters moved to the alphabet starting at ``upper``/``lower``."""
    out = []
    for ch in text:
        if "A" <= ch <= "Z":
            out.append(chr(upper + ord(ch) - ord("A")))
        elif "a" <= ch <= "z":
            out.append(chr(lower + ord(ch) - ord("a")))
        else:
            out.append(ch)
    return "".join(out)


def fullwidth(text: str) -> str:
    """``text`` in fullwidth forms (ideographic space for spaces)."""
    return "".join(
        "\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text
    )


def interleave(text: str, mark: str) -> str:
    """``text`` with ``mark`` between every two characters (zero-width tricks)."""
    return mark.join(text)


def combine(text: str, mark: str) -> str:
    """``text`` with the combining ``mark`` after every letter."""
    return "".join(ch + mark if ch.isalpha() else ch for ch in text)


_HOMOGLYPHS = str.maketrans(
    {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "i": "\u0456"}
)


def homoglyph(text: str) -> str:
    """``text`` with Latin letters swapped for look-alike Cyrillic ones."""
    return text.translate(_HOMOGLYPHS)


def math_bold(text: str) -> str:
    """``text`` in mathematical bold letters."""
    return _shift(text, 0x1D400, 0x1D41A)


def sans_bold(text: str) -> str:
    """``text`` in mathematical sans-serif bold letters."""
    return _shift(text, 0x1D5D4, 0x1D5EE)


def monospace(text: str) -> str:
    """``text`` in mathematical monospace letters."""
    return _shift(text, 0x1D670, 0x1D68A)


def fraktur_bold(text: str) -> str:
    """``text`` in mathematical bold fraktur letters."""
    return _shift(text, 0x1D56C, 0x1D586)


def circled(text: str) -> str:
    """``text`` in circled letters."""
    return _shift(text, 0x24B6, 0x24D0)
