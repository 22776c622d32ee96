"""Attribute types pynamodb lacks."""

from __future__ import annotations

from decimal import Decimal

from pynamodb.attributes import Attribute
from pynamodb.constants import NUMBER


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB number read and written as ``Decimal``, never through a float: money stays exact.

    (pynamodb's NumberAttribute goes through ``json`` and so through float.) DynamoDB keeps 38 significant
    digits, and its ``ADD`` on such a number is exact decimal arithmetic too."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"a DecimalAttribute takes a finite Decimal, got {value!r}")
        return format(value.normalize() if value else Decimal(0), "f")

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)
