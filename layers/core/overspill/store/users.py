"""User repository."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from pynamodb.exceptions import DoesNotExist, PutError

from overspill.store.models import UserModel
from overspill.users import RoutingMode, User, UserStatus


class UserRepository:
    def get(self, user_id: str) -> User | None:
        try:
            return _to_user(UserModel.get(user_id))
        except DoesNotExist:
            return None

    def create(self, name: str, *, email: str | None = None, team: str | None = None,
               cost_center: str | None = None, routing_mode: RoutingMode = RoutingMode.PLAN_FIRST,
               user_id: str | None = None, budget_usd: Decimal | None = None) -> User:
        now = datetime.now(UTC)
        item = UserModel(
            user_id or f"usr_{uuid.uuid4().hex[:16]}",
            name=name, email=email, team=team, cost_center=cost_center,
            routing_mode=routing_mode.value, status=UserStatus.ACTIVE.value, budget_usd=budget_usd,
            created_at=now, updated_at=now,
        )
        item.save(condition=UserModel.user_id.does_not_exist())
        return _to_user(item)

    def all(self) -> list[User]:
        """Every user. A team has hundreds of developers, not millions: one paginated Scan (1 RCU per 4 KB)."""
        return [_to_user(item) for item in UserModel.scan(page_size=500)]

    def save_changes(self, user_id: str, expected_version: int, **changes: object) -> User | None:
        """Apply ``changes`` if the stored version is still ``expected_version``; None if it is not (someone
        else changed the user since it was read). Raises LookupError for an unknown user."""
        try:
            item = UserModel.get(user_id, consistent_read=True)
        except DoesNotExist:
            raise LookupError(user_id) from None
        if (item.version or 0) != expected_version:
            return None
        for name, value in changes.items():
            setattr(item, name, value.value if isinstance(value, RoutingMode | UserStatus) else value)
        item.updated_at = datetime.now(UTC)
        try:
            item.save()  # conditional on the version read (pynamodb's VersionAttribute), which it then bumps
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return None
            raise
        return _to_user(item)

    def many(self, user_ids: Iterable[str]) -> dict[str, User]:
        """Users by id (unknown ids are left out): one BatchGetItem per 100 ids."""
        ids = sorted(set(user_ids))
        return {item.user_id: _to_user(item) for item in UserModel.batch_get(ids)} if ids else {}

    def with_budget(self) -> list[User]:
        """Every user with a monthly budget (a Scan with a filter: a team's users, not millions)."""
        return [_to_user(item) for item in UserModel.scan(UserModel.budget_usd.exists(), page_size=500)]

    def any_exists(self) -> bool:
        return next(iter(UserModel.scan(limit=1)), None) is not None


def _to_user(item: UserModel) -> User:
    return User(
        user_id=item.user_id, name=item.name, email=item.email, team=item.team,
        cost_center=item.cost_center, routing_mode=RoutingMode(item.routing_mode),
        status=UserStatus(item.status), created_at=item.created_at, updated_at=item.updated_at,
        version=item.version or 0, budget_usd=item.budget_usd,
    )
