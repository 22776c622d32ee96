"""Users: the developers whose requests Overspill routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class RoutingMode(StrEnum):
    PLAN_FIRST = "plan_first"    # the developer's plan; Bedrock when the plan is limited or failing
    BEDROCK_ONLY = "bedrock_only"
    PLAN_ONLY = "plan_only"      # never fall back: the plan's 429 reaches Claude Code


class UserStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    name: str
    email: str | None
    team: str | None
    cost_center: str | None
    routing_mode: RoutingMode
    status: UserStatus
    created_at: datetime
    updated_at: datetime
    version: int
    budget_usd: Decimal | None = None   # monthly, in USD; None = no budget

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Team:
    """A team's own settings; a team named by users but without an item has none (no budget)."""

    team: str
    budget_usd: Decimal | None
    cost_center: str | None
    version: int = 0                    # 0: the team has no item (no settings yet)
    updated_at: datetime | None = None
