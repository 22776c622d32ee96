"""What the admin API refuses, and how: every refusal names what was wrong (and, for bad input, the field).

Services raise these; ``overspill.admin.api`` turns them into ``{"error": {"type", "message", "fields"}}``
with the status below. Messages are safe to show: they never contain a secret or a key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str       # dotted path into the request: "email", "budget_usd", "models.claude-x.input"
    message: str


class AdminError(Exception):
    status = 400
    type = "invalid_request"

    def __init__(self, message: str, *, fields: tuple[FieldProblem, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class InvalidInput(AdminError):
    """A value is well-typed but not acceptable (a reversed range, a key that cannot be rotated, …)."""

    status = 422
    type = "invalid_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, fields=(FieldProblem(field, message),))


class NotFound(AdminError):
    status = 404
    type = "not_found"


class Conflict(AdminError):
    """The change does not apply to the current state (a stale version, a user already deleted, …)."""

    status = 409
    type = "conflict"


class Unavailable(AdminError):
    """Something the API depends on is down; trying again later may work."""

    status = 503
    type = "unavailable"
