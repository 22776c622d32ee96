"""Usage events summed into export rows: one per period × user × team × model × route.

Only the groups are held, never the events, so a day of a million events costs a few thousand groups of
memory. The sums are the rollups' own (``Counters``): the exports and the dashboard count a request the same way.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from datetime import datetime

from overspill.exports.periods import Period
from overspill.usage.events import UsageEvent
from overspill.usage.rollups import Counters

# Money is summed exactly: far more digits than any day's or month's cost can need (DynamoDB numbers carry 38).
_EXACT_SUMS = decimal.Context(prec=80, traps=[decimal.Inexact, decimal.InvalidOperation])

GroupKey = tuple[str, str, str, str]    # user_id, team, model, route ("" where absent)


@dataclass(slots=True)
class _Group:
    counters: Counters
    user_name: str | None
    cost_center: str | None
    latest: tuple[datetime, str]        # (occurred_at, request_id) of the event the names come from


@dataclass(frozen=True, slots=True)
class UsageRow:
    period: str
    user_id: str
    user_name: str | None
    team: str
    cost_center: str | None
    model: str
    route: str
    counters: Counters


class PeriodUsage:
    """The usage of one period (a day or a month), summed as its events stream in."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.events = 0
        self._groups: dict[GroupKey, _Group] = {}

    def add(self, event: UsageEvent) -> None:
        key = (event.user_id, event.team or "", event.model or "", event.route)
        counters = Counters.of_event(event)
        latest = (event.occurred_at, event.request_id)
        group = self._groups.get(key)
        if group is None:
            self._groups[key] = _Group(counters, event.user_name, event.cost_center, latest)
        else:
            with decimal.localcontext(_EXACT_SUMS):
                group.counters.add(counters)
            # A user renamed (or moved to another cost center) within the period is shown as they were last.
            if latest > group.latest:
                group.latest, group.user_name, group.cost_center = latest, event.user_name, event.cost_center
        self.events += 1

    def rows(self) -> list[UsageRow]:
        """Sorted by the group's key, so the same events always give the same rows in the same order."""
        return [UsageRow(self.period.label, key[0], group.user_name, key[1], group.cost_center, key[2], key[3],
                         group.counters)
                for key, group in sorted(self._groups.items())]

    def totals(self) -> Counters:
        total = Counters()
        with decimal.localcontext(_EXACT_SUMS):
            for group in self._groups.values():
                total.add(group.counters)
        return total
