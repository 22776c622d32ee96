"""What a usage event adds to the rollups: the rows it counts in, and the counts it adds (pure; no storage).

Every event counts in these rows (its period is the UTC day of ``occurred_at``, or that day's month):

=============  =================================  ==============================================  ===========
kind           pk                                 sk                                              when
=============  =================================  ==============================================  ===========
user_day       ``user#<user id>``                 ``day#<YYYY-MM-DD>#model#<model>#route#<route>``  always
user_month     ``user#<user id>``                 ``month#<YYYY-MM>#route#<route>``                 always
team_day       ``team#<team>``                    ``day#<YYYY-MM-DD>#route#<route>``                always
team_month     ``team#<team>``                    ``month#<YYYY-MM>#route#<route>``                 always
org_day        ``org``                            ``day#<YYYY-MM-DD>#route#<route>``                always
fallback_day   ``org``                            ``fallback#<YYYY-MM-DD>#<reason>``                Bedrock answers
=============  =================================  ==============================================  ===========

A user without a team counts under ``team#`` (the team attribute absent), so teams always add up to the
organisation. Route is last in every key so that no two (model, route) pairs can share a key.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum

from overspill.usage.events import UsageEvent


class Kind(StrEnum):
    USER_DAY = "user_day"
    USER_MONTH = "user_month"
    TEAM_DAY = "team_day"
    TEAM_MONTH = "team_month"
    ORG_DAY = "org_day"
    FALLBACK_DAY = "fallback_day"


ORG_PK = "org"


@dataclass(frozen=True, slots=True)
class RollupKey:
    kind: Kind
    period: str                     # YYYY-MM-DD for *_day kinds, YYYY-MM for *_month
    user_id: str | None = None
    team: str | None = None
    model: str | None = None
    route: str | None = None
    reason: str | None = None

    @property
    def pk(self) -> str:
        if self.kind in (Kind.USER_DAY, Kind.USER_MONTH):
            return user_pk(self.user_id or "")
        if self.kind in (Kind.TEAM_DAY, Kind.TEAM_MONTH):
            return team_pk(self.team)
        return ORG_PK

    @property
    def sk(self) -> str:
        if self.kind is Kind.USER_DAY:
            return f"day#{self.period}#model#{self.model or ''}#route#{self.route}"
        if self.kind is Kind.FALLBACK_DAY:
            return f"fallback#{self.period}#{self.reason or ''}"
        unit = "month" if self.kind in (Kind.USER_MONTH, Kind.TEAM_MONTH) else "day"
        return f"{unit}#{self.period}#route#{self.route}"

    @property
    def kind_period(self) -> str:
        return f"{self.kind}#{self.period}"


@dataclass(slots=True)
class Counters:
    """The sums a rollup row keeps. Cost counts priced requests only; unpriced ones are counted apart."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced_requests: int = 0

    @classmethod
    def of_event(cls, event: UsageEvent) -> Counters:
        tokens = event.tokens
        return cls(
            requests=1,
            errors=1 if event.status >= 400 else 0,
            input_tokens=tokens.input_tokens,
            output_tokens=tokens.output_tokens,
            cache_write_5m_tokens=tokens.cache_write_5m_tokens,
            cache_write_1h_tokens=tokens.cache_write_1h_tokens,
            cache_read_tokens=tokens.cache_read_input_tokens,
            cost_usd=event.cost_usd if event.cost_usd is not None else Decimal(0),
            unpriced_requests=0 if event.cost_usd is not None else 1,
        )

    def add(self, other: Counters) -> None:
        for f in COUNTER_FIELDS:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def as_dict(self) -> dict[str, int | Decimal]:
        return {f: getattr(self, f) for f in COUNTER_FIELDS}


COUNTER_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Counters))


def day_of(event: UsageEvent) -> str:
    return event.occurred_at.strftime("%Y-%m-%d")


def keys_for(event: UsageEvent) -> list[RollupKey]:
    """Every rollup row the event counts in."""
    day = day_of(event)
    month = day[:7]
    route = event.route
    keys = [
        RollupKey(Kind.USER_DAY, day, user_id=event.user_id, team=event.team, model=event.model, route=route),
        RollupKey(Kind.USER_MONTH, month, user_id=event.user_id, route=route),
        RollupKey(Kind.TEAM_DAY, day, team=event.team, route=route),
        RollupKey(Kind.TEAM_MONTH, month, team=event.team, route=route),
        RollupKey(Kind.ORG_DAY, day, route=route),
    ]
    if event.fallback_reason and route == "bedrock":
        keys.append(RollupKey(Kind.FALLBACK_DAY, day, reason=event.fallback_reason))
    return keys


def user_pk(user_id: str) -> str:
    return f"user#{user_id}"


def team_pk(team: str | None) -> str:
    return f"team#{team or ''}"


def month_prefix(month: str) -> str:
    """The sort-key prefix of a user's or team's month rows (all routes)."""
    return f"month#{month}#route#"
