"""A self-check's reply, and the shared ways of judging an answer.

A :class:`Verdict` shows as one line in a notebook: "Right: ...", "Not
yet: ... Hint: ..." or "No answer yet: ...". It is truthy when the answer
is right and is never an exception: a learner's wrong answer, or a bug in
a learner's function, is reported, not raised.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "UNANSWERED",
    "Verdict",
    "as_number",
    "check_choice",
    "check_whole",
    "is_stub",
    "right",
    "unwritten",
    "wrong",
]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a self-check: right or not, and a one-line message."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.message

    __str__ = __repr__


def right(text: str) -> Verdict:
    return Verdict(True, f"Right: {text}")


def wrong(text: str, hint: str) -> Verdict:
    return Verdict(False, f"Not yet: {text} Hint: {hint}")


UNANSWERED = Verdict(False, "No answer yet: replace None with your answer.")


def is_stub(func: Callable[[Any], Any], cases: Sequence[Sequence[Any]]) -> bool:
    """True if ``func`` returns None on every case: a stub not written yet."""
    try:
        return all(func(list(case)) is None for case in cases)
    except Exception:  # a student's bug is reported by the check itself
        return False


def unwritten(func: Callable[[Any], Any]) -> Verdict:
    name = getattr(func, "__name__", "the function")
    return Verdict(
        False,
        f"No answer yet: {name} returns None; replace `return None` with your code.",
    )


def as_number(answer: Any) -> float | None:
    """The answer as a number, or None if it is not one (bools are not)."""
    if isinstance(answer, bool):
        return None
    try:
        value = float(str(answer).replace(",", "").replace("_", ""))
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def check_whole(answer: Any, expected: int, hints: Mapping[int, str]) -> Verdict:
    """A whole-number answer: exact, with a hint for known wrong values."""
    if answer is None:
        return UNANSWERED
    value = as_number(answer)
    if value is None:
        return wrong(f"{answer!r} is not a number.", "answer with a whole number.")
    if value == expected:
        return right(f"{expected:,}.")
    shown = f"{value:,.0f}" if value.is_integer() else f"{value:,}"
    hint = hints.get(int(value), "") if value.is_integer() else ""
    return wrong(f"{shown} is not it.", hint or "work it out again step by step.")


def check_choice(answer: Any, expected: str, hints: Mapping[str, str]) -> Verdict:
    """A one-letter answer such as ``"b"`` or ``"(b)"``, any case.

    ``hints`` maps each wrong letter to what to think about; the letters
    allowed are ``expected`` and the keys of ``hints``.
    """
    if answer is None:
        return UNANSWERED
    letters = sorted({expected, *hints})
    letter = str(answer).strip().strip("()").strip().lower()
    if letter == expected:
        return right(f"({expected}).")
    if letter in hints:
        return wrong(f"({letter}) is not it.", hints[letter])
    return wrong(
        f"{answer!r} is not one of the choices.",
        f"answer with one letter: {', '.join(letters)}.",
    )
