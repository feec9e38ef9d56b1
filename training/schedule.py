"""When the next training run is due: a fixed interval (``24h``) or a cron expression (five fields,
names such as ``MON`` and ``JAN``, or a macro such as ``@daily``), read by croniter."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from croniter import CroniterBadDateError, croniter

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> timedelta:
    """``90m``, ``24h``, ``7d`` -> a timedelta."""
    m = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not m or int(m.group(1)) == 0:
        raise ValueError(f"cannot read interval {text!r}: use a number and s, m, h or d, e.g. 24h")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


class Cron:
    """Minute, hour, day of month, month, day of week (``*``, lists, ranges, ``/step``, names), or a
    macro (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``). When both day fields are
    restricted, either may match, as in classic cron."""

    def __init__(self, expression: str) -> None:
        text = expression.strip()
        if not text.startswith("@") and len(text.split()) != 5:
            raise ValueError(f"cron expression {expression!r} needs 5 fields (minute hour day month weekday)")
        if not croniter.is_valid(text):
            raise ValueError(f"cannot read cron expression {expression!r}")
        self.expression = text

    def next_after(self, after: datetime) -> datetime:
        try:
            return croniter(self.expression, after).get_next(datetime)
        except CroniterBadDateError as err:  # valid fields that never meet, such as 30 February
            raise ValueError(f"the cron expression {self.expression!r} never matches") from err


def next_run(after: datetime, *, every: str | None = None, cron: str | None = None) -> datetime:
    if every is not None and cron is None:
        return after + parse_every(every)
    if cron is not None and every is None:
        return Cron(cron).next_after(after)
    raise ValueError("give either an interval (--every) or a cron expression (--cron)")
