"""Number formatting for pages: one place decides digits, units and 'not measured'.

Display rounds to a few significant digits; the CSV and JSON downloads keep
every digit of the records.
"""

from __future__ import annotations

import math

MISSING = "not measured"


def sig(value: float | None, digits: int = 3, missing: str = MISSING) -> str:
    """``value`` to ``digits`` significant digits, without exponent for everyday sizes."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    if magnitude >= 9 or magnitude < -4:
        return f"{value:.{digits - 1}e}"
    return f"{value:,.{decimals}f}"


def with_unit(value: float | None, unit: str, digits: int = 3, missing: str = MISSING) -> str:
    return missing if value is None else f"{sig(value, digits)} {unit}"


def percent(value: float | None, digits: int = 1, missing: str = "not known") -> str:
    return missing if value is None else f"{value:.{digits}f} %"


def megabytes(value_bytes: float | None, missing: str = MISSING) -> str:
    return missing if value_bytes is None else f"{sig(value_bytes / 1e6, 4)} MB"


def count(value: int | None, missing: str = MISSING) -> str:
    return missing if value is None else f"{value:,}"


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """'1 model', '2 models'; ``nouns`` for an irregular plural."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def signed(value: float, digits: int = 3) -> str:
    """'+ 1.2' or '− 1.2': a term following another in a formula."""
    text = sig(abs(value), digits)
    return f"+ {text}" if value >= 0 else f"− {text}"


def interval(low: float | None, high: float | None, digits: int = 3, missing: str = "no interval") -> str:
    """'4.12–4.56': a 95 % interval, or ``missing`` when the record has none."""
    if low is None or high is None:
        return missing
    return f"{sig(low, digits)}–{sig(high, digits)}"


def with_interval(value: float | None, low: float | None, high: float | None, digits: int = 3) -> str:
    """'4.3 (4.1–4.6)': a point estimate with its 95 % interval in brackets."""
    if value is None:
        return MISSING
    return f"{sig(value, digits)} ({interval(low, high, digits)})"
