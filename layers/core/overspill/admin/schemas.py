"""Input types shared by the admin API's routes: names without control characters, user ids of our shape,
money that is never negative, date ranges that make sense. Pydantic, so the OpenAPI document states them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BeforeValidator, ConfigDict, Field, PlainSerializer, StringConstraints, WithJsonSchema

from overspill.admin.errors import InvalidInput

# Input models refuse fields they do not know: a typo ("budget" for "budget_usd") must not pass silently.
STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)

USER_ID_PATTERN = r"^usr_[A-Za-z0-9_-]{1,64}$"
KEY_ID_PATTERN = r"^key_[A-Za-z0-9_-]{1,64}$"


# Characters no name or email may hold: control characters (line breaks, NUL, escapes, C1) and the invisible
# formatting ones (zero-width, bidi overrides, BOM). In a name they end up in CSV exports, logs and terminals.
# A pattern rather than a validator, so the OpenAPI document states it too.
_HIDDEN = r"\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
_PRINTABLE = rf"^[^{_HIDDEN}]+$"

Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_PRINTABLE)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_PRINTABLE)]
# A team or cost centre becomes a key in the rollups and a column in exports: keep it simple.
Label = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/&+-]*$")]
# Emails: a pragmatic shape check (one @, a dot in the domain, no spaces or hidden characters).
Email = Annotated[str, StringConstraints(
    max_length=254, pattern=rf"^[^@\s{_HIDDEN}]+@[^@\s{_HIDDEN}]+\.[^@\s{_HIDDEN}]+$")]
# Money in requests: a number or a decimal string, 0 to a billion, at most 6 decimals. The JSON schema says
# exactly that (pydantic's default one would let through strings it then refuses).
Money = Annotated[
    Decimal, Field(ge=0, le=Decimal("1000000000"), max_digits=16, decimal_places=6),
    WithJsonSchema({"anyOf": [
        {"type": "number", "minimum": 0, "maximum": 1_000_000_000, "multipleOf": 0.000001},
        {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,6})?$"},
    ]}),
]

UserIdPath = Annotated[str, Path(pattern=USER_ID_PATTERN, description="A user id (usr_…)")]
KeyIdPath = Annotated[str, Path(pattern=KEY_ID_PATTERN, description="An access key id (key_…)")]


def checked_range(start: date, end: date, *, max_days: int, allow_future: bool = False) -> tuple[date, date]:
    """A date range (inclusive) an admin may ask for; InvalidInput naming ``from``/``to`` otherwise."""
    if end < start:
        raise InvalidInput("to", f"the range ends ({end}) before it starts ({start})")
    if (end - start).days + 1 > max_days:
        raise InvalidInput("to", f"the range covers {(end - start).days + 1} days; at most {max_days} are allowed")
    today = datetime.now(UTC).date()
    if not allow_future and start > today:
        raise InvalidInput("from", f"the range starts in the future ({start}; today is {today} UTC)")
    return start, end


def default_range(days: int = 30) -> tuple[date, date]:
    """The last ``days`` days up to today (UTC): what a dashboard shows before anyone picks a range."""
    today = datetime.now(UTC).date()
    return today - timedelta(days=days - 1), today


MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# An Idempotency-Key header: a client-chosen token (a UUID, typically), printable ASCII.
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


def _money_text(value: Decimal) -> str:
    # As DynamoDB keeps numbers (normalised), without exponents: 150.50 and 150.5 read back the same.
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


# Money in answers: a decimal string, exactly as stored (never a binary float).
MoneyOut = Annotated[Decimal, PlainSerializer(_money_text, return_type=str, when_used="json")]


def _iso_day(value: object) -> object:
    # pydantic would also take 0 or 1700000000 (a Unix time) for a date: only a written date is one here.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date written YYYY-MM-DD")
    if isinstance(value, int | float):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


# A day in a query string or body: YYYY-MM-DD, nothing else.
Day = Annotated[date, BeforeValidator(_iso_day)]
