"""Reading a free-text VLM answer as one of the protocol's two choices.

Models rarely answer with the bare word: "It looks real.", "The second image was edited", "I think it's
AI-generated", "Image 1". The rule: the earliest keyword (or synonym) in the answer decides, after lower-casing;
a negated keyword ("not real", "isn't edited") counts as the opposite. Nothing recognisable -> ``None``
(the trial becomes invalid rather than guessed).
"""

from __future__ import annotations

import re

from .judges import EDITED, FIRST, REAL, SECOND

_SINGLE_WORDS = {
    REAL: ("real", "authentic", "genuine", "unedited", "unaltered", "untouched", "natural", "original"),
    EDITED: (
        "edited", "inpainted", "fake", "manipulated", "altered", "modified", "doctored", "tampered",
        "ai-generated", "ai generated", "generated", "synthetic", "photoshopped",
    ),
}
_PAIR_WORDS = {
    FIRST: ("first", "1st", "image 1", "picture 1", "#1", "former", "left"),
    SECOND: ("second", "2nd", "image 2", "picture 2", "#2", "latter", "right"),
}
_OPPOSITE = {REAL: EDITED, EDITED: REAL, FIRST: SECOND, SECOND: FIRST}
_NEGATION = re.compile(r"(?:\bnot|n't|\bnever|\bno)\s+(?:\w+\s+)?$")


def _pattern(words: dict[str, tuple[str, ...]]) -> re.Pattern:
    alternatives = sorted((w for group in words.values() for w in group), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(w) for w in alternatives) + r")(?![\w-])")


_SINGLE_PATTERN, _PAIR_PATTERN = _pattern(_SINGLE_WORDS), _pattern(_PAIR_WORDS)
_SINGLE_LOOKUP = {w: choice for choice, group in _SINGLE_WORDS.items() for w in group}
_PAIR_LOOKUP = {w: choice for choice, group in _PAIR_WORDS.items() for w in group}


def _parse(text: str, pattern: re.Pattern, lookup: dict[str, str]) -> str | None:
    lowered = " ".join(text.lower().replace("’", "'").split())
    match = pattern.search(lowered)
    if match is None:
        return None
    choice = lookup[match.group(1)]
    # "not real", "isn't edited", "not the first": a negation within one word before the keyword flips it.
    if _NEGATION.search(lowered[: match.start()]):
        return _OPPOSITE[choice]
    return choice


def parse_single_answer(text: str) -> str | None:
    """``"real"``, ``"edited"`` or ``None``."""
    return _parse(text, _SINGLE_PATTERN, _SINGLE_LOOKUP)


def parse_pair_answer(text: str) -> str | None:
    """``"first"``, ``"second"`` or ``None``; a bare "1" / "2" answer counts too."""
    choice = _parse(text, _PAIR_PATTERN, _PAIR_LOOKUP)
    if choice is None:
        bare = text.strip().strip(".!:)( ").lower()
        choice = {"1": FIRST, "2": SECOND, "a": FIRST, "b": SECOND}.get(bare)
    return choice
