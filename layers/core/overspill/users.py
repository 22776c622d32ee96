"""Users: the developers whose requests Overspill routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE
