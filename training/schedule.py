"""When the next training run is due: a fixed interval (``24h``) or a five-field cron expression."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # minute hour day-of-month month day-of-week (0 and 7: Sunday)


def parse_every(text: str) -> timedelta:
    """``90m``, ``24h``, ``7d`` -> a timedelta."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"cannot read interval {text!r}: use a number and s, m, h or d, e.g. 24h")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def _field(text: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if body == "*":
            start, end = lo, hi
        elif "-" in body:
            start, end = (int(x) for x in body.split("-", 1))
        else:
            start = end = int(body)
            if step_text:
                end = hi
        if not (lo <= start <= end <= hi) or step < 1:
            raise ValueError(f"cron field {text!r} is outside {lo}-{hi}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


class Cron:
    """Minute, hour, day of month, month, day of week; ``*``, lists, ranges and ``/step``. When both
    day fields are restricted, either may match (as in classic cron)."""

    def __init__(self, expression: str) -> None:
        parts = expression.split()
        if len(parts) != 5:
            raise ValueError(f"cron expression {expression!r} needs 5 fields (minute hour day month weekday)")
        try:
            self.minute, self.hour, self.day, self.month, weekday = (
                _field(p, *_RANGES[i]) for i, p in enumerate(parts))
        except ValueError as err:
            raise ValueError(f"cannot read cron expression {expression!r}: {err}") from None
        self.weekday = frozenset(d % 7 for d in weekday)
        self._any_day, self._any_weekday = parts[2] == "*", parts[4] == "*"

    def _day_matches(self, t: datetime) -> bool:
        dom, dow = t.day in self.day, (t.isoweekday() % 7) in self.weekday
        if self._any_day or self._any_weekday:
            return dom and dow
        return dom or dow

    def next_after(self, after: datetime) -> datetime:
        t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if t.month in self.month and self._day_matches(t) and t.hour in self.hour and t.minute in self.minute:
                return t
            t += timedelta(minutes=1)
        raise ValueError("the cron expression never matches")


def next_run(after: datetime, *, every: str | None = None, cron: str | None = None) -> datetime:
    if (every is None) == (cron is None):
        raise ValueError("give either an interval (--every) or a cron expression (--cron)")
    return after + parse_every(every) if every else Cron(cron).next_after(after)
