"""Working calendar: plans are solved in working-day units and mapped to dates."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

MAX_SPAN_DAYS = 20 * 366


@dataclass(frozen=True)
class WorkingCalendar:
    start: date
    non_working: frozenset[date] = field(default_factory=frozenset)
    rest_weekdays: frozenset[int] = field(default_factory=frozenset)  # 0 = Monday ... 6 = Sunday

    @staticmethod
    def of(start: date, non_working: Iterable[date] = (), rest_weekdays: Iterable[int] = ()) -> WorkingCalendar:
        rest = frozenset(rest_weekdays)
        if len(rest) >= 7 or any(not 0 <= d <= 6 for d in rest):
            raise ValueError("rest weekdays are 0..6 and at least one weekday must be a working day")
        return WorkingCalendar(start, frozenset(non_working), rest)

    def is_working(self, day: date) -> bool:
        return day not in self.non_working and day.weekday() not in self.rest_weekdays

    def date_of(self, index: int) -> date:
        """The date of working day ``index`` (0 = first working day on or after ``start``)."""
        if index < 0:
            raise ValueError("working-day index is non-negative")
        day = self.start
        seen = -1
        for _ in range(MAX_SPAN_DAYS):
            if self.is_working(day):
                seen += 1
                if seen == index:
                    return day
            day += timedelta(days=1)
        raise ValueError("the calendar has too few working days")

    def dates(self, count: int) -> list[date]:
        """The first ``count`` working dates."""
        out: list[date] = []
        day = self.start
        for _ in range(MAX_SPAN_DAYS):
            if len(out) >= count:
                break
            if self.is_working(day):
                out.append(day)
            day += timedelta(days=1)
        if len(out) < count:
            raise ValueError("the calendar has too few working days")
        return out

    def worked_by(self, day: date) -> int:
        """How many working days have passed by the end of ``day`` (0 before the start)."""
        if day < self.start:
            return 0
        span = (day - self.start).days + 1
        if span > MAX_SPAN_DAYS:
            raise ValueError("date is too far from the calendar start")
        return sum(1 for k in range(span) if self.is_working(self.start + timedelta(days=k)))

    def index_on_or_after(self, day: date) -> int:
        """The working-day index of ``day`` or of the next working day after it."""
        return self.worked_by(day - timedelta(days=1)) if day > self.start else 0
