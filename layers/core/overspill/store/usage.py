"""Usage-event repository: one idempotent write per request.

An item can also be stored from its DynamoDB JSON image (``item_image`` / ``record_image``): that is how a usage
event travels through the spill queue when DynamoDB would not take it (``overspill.usage.spill``), and the replay
writes it with the same condition, so an event delivered twice is stored once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from pynamodb.exceptions import DoesNotExist, PutError

from overspill.store.models import UsageEventModel
from overspill.usage.events import TokenUsage, UsageEvent


class UsageRepository:
    def __init__(self, retention: timedelta) -> None:
        self._retention = retention

    def record(self, event: UsageEvent) -> bool:
        """Write the event once; a repeated write of the same request id is a no-op (returns False)."""
        return _save_once(self._item(event))

    def item_image(self, event: UsageEvent) -> dict[str, Any]:
        """The item ``record`` would write, in DynamoDB JSON (what the spill queue carries)."""
        return self._item(event).serialize()

    def record_image(self, image: dict[str, Any]) -> bool:
        """Write an item from its image, once (False: already stored). The caller checks the image first
        (``overspill.store.rollups.usage_event_from_image``): an item is written exactly as the image says."""
        return _save_once(UsageEventModel.from_raw_data(image))

    def _item(self, event: UsageEvent) -> UsageEventModel:
        return UsageEventModel(
            event.request_id,
            occurred_at=event.occurred_at,
            day=event.occurred_at.strftime("%Y-%m-%d"),
            user_id=event.user_id,
            key_prefix=event.key_prefix,
            session_id=event.session_id,
            model=event.model,
            route=event.route,
            fallback_reason=event.fallback_reason,
            bedrock_model_id=event.bedrock_model_id,
            endpoint=event.endpoint,
            status=event.status,
            stop_reason=event.stop_reason,
            error_type=event.error_type,
            input_tokens=event.tokens.input_tokens,
            output_tokens=event.tokens.output_tokens,
            cache_creation_input_tokens=event.tokens.cache_creation_input_tokens,
            cache_read_input_tokens=event.tokens.cache_read_input_tokens,
            ttfb_ms=_round(event.ttfb_ms),
            duration_ms=_round(event.duration_ms),
            overhead_ms=_round(event.overhead_ms),
            streamed=event.streamed,
            client_disconnected=event.client_disconnected,
            upstream_request_id=event.upstream_request_id,
            user_name=event.user_name,
            team=event.team,
            cost_center=event.cost_center,
            cache_creation_5m_input_tokens=event.tokens.cache_creation_5m_input_tokens,
            cache_creation_1h_input_tokens=event.tokens.cache_creation_1h_input_tokens,
            cost_usd=event.cost_usd,
            cost_known=event.cost_known,
            price_snapshot=None if event.price_snapshot is None else orjson.dumps(event.price_snapshot).decode(),
            expires_at=event.occurred_at + self._retention,
        )

    def get(self, request_id: str) -> UsageEvent | None:
        try:
            return to_event(UsageEventModel.get(request_id, consistent_read=True))
        except DoesNotExist:
            return None

    def for_user(self, user_id: str) -> list[UsageEvent]:
        ids = [i.request_id for i in UsageEventModel.by_user.query(user_id)]
        return [to_event(i) for i in UsageEventModel.batch_get(ids)] if ids else []


def _save_once(item: UsageEventModel) -> bool:
    try:
        item.save(condition=UsageEventModel.request_id.does_not_exist())
        return True
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def to_event(item: UsageEventModel) -> UsageEvent:
    """The domain event of a stored item (also used by readers of the table's stream and exports)."""
    return UsageEvent(
        request_id=item.request_id, occurred_at=item.occurred_at, user_id=item.user_id,
        key_prefix=item.key_prefix, route=item.route, endpoint=item.endpoint, status=int(item.status),
        streamed=item.streamed, duration_ms=float(item.duration_ms), session_id=item.session_id,
        model=item.model, fallback_reason=item.fallback_reason, bedrock_model_id=item.bedrock_model_id,
        stop_reason=item.stop_reason, error_type=item.error_type,
        tokens=TokenUsage(int(item.input_tokens), int(item.output_tokens),
                          int(item.cache_creation_input_tokens), int(item.cache_read_input_tokens),
                          _int(item.cache_creation_5m_input_tokens), _int(item.cache_creation_1h_input_tokens)),
        ttfb_ms=item.ttfb_ms, overhead_ms=item.overhead_ms, client_disconnected=item.client_disconnected,
        upstream_request_id=item.upstream_request_id, user_name=item.user_name, team=item.team,
        cost_center=item.cost_center, cost_usd=item.cost_usd, cost_known=item.cost_known,
        price_snapshot=None if item.price_snapshot is None else orjson.loads(item.price_snapshot),
    )


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)
