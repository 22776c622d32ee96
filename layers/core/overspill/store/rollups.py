"""Rollup repository: the sums of usage events (see ``overspill.usage.rollups`` for the rows and keys)."""

from __future__ import annotations

from decimal import Decimal

from overspill.store.models import UsageRollupModel
from overspill.usage.rollups import COUNTER_FIELDS, Counters, month_prefix


class RollupRepository:
    def month_by_route(self, pk: str, month: str) -> dict[str, Counters]:
        """A user's or team's month (``pk`` from ``user_pk``/``team_pk``), per route; one strongly consistent
        Query."""
        rows = UsageRollupModel.query(pk, UsageRollupModel.sk.startswith(month_prefix(month)),
                                      consistent_read=True)
        return {row.route: counters_of(row) for row in rows if row.route}


def counters_of(row: UsageRollupModel) -> Counters:
    values = {}
    for name in COUNTER_FIELDS:
        value = getattr(row, name)
        if name == "cost_usd":
            values[name] = value if value is not None else Decimal(0)
        else:
            values[name] = int(value or 0)
    return Counters(**values)
