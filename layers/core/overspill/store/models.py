"""pynamodb models: the one description of every table's keys, indexes, TTL and stream.

Table names, region and endpoint are bound at start-up from Settings (``bind_models``), so the same models
serve Lambda (names from the CDK app), the local emulator and the tests.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from overspill.aws import shared_loader
from overspill.config import Settings
from overspill.store.attributes import DecimalAttribute


class UserModel(Model):
    class Meta:
        table_name = "overspill-users"
        settings_field = "users_table"

    user_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    team = UnicodeAttribute(null=True)
    cost_center = UnicodeAttribute(null=True)
    routing_mode = UnicodeAttribute(default="plan_first")
    status = UnicodeAttribute(default="active")
    budget_usd = DecimalAttribute(null=True)            # monthly; None = no budget
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class TeamModel(Model):
    """A team's settings: its optional monthly budget (users name their team; a team needs no item)."""

    class Meta:
        table_name = "overspill-teams"
        settings_field = "teams_table"

    team = UnicodeAttribute(hash_key=True)
    budget_usd = DecimalAttribute(null=True)
    cost_center = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class ConfigModel(Model):
    """Settings admins change at run time (price overrides, …): one JSON document per name, versioned."""

    class Meta:
        table_name = "overspill-config"
        settings_field = "config_table"

    name = UnicodeAttribute(hash_key=True)
    value = UnicodeAttribute()                          # JSON; numbers kept as text where they are money
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute(null=True)
    version = VersionAttribute()


class KeysByUserIndex(GlobalSecondaryIndex["AccessKeyModel"]):
    class Meta:
        index_name = "by_user"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class AccessKeyModel(Model):
    """One item per issued key, found by the HMAC of the plain key (the only way in)."""

    class Meta:
        table_name = "overspill-access-keys"
        settings_field = "access_keys_table"

    key_hash = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    prefix = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    revoked_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)
    by_user = KeysByUserIndex()


class UsageByDayIndex(GlobalSecondaryIndex["UsageEventModel"]):
    class Meta:
        index_name = "by_day"
        projection = AllProjection()

    day = UnicodeAttribute(hash_key=True)
    occurred_at = UTCDateTimeAttribute(range_key=True)


class UsageByUserIndex(GlobalSecondaryIndex["UsageEventModel"]):
    class Meta:
        index_name = "by_user"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True)
    occurred_at = UTCDateTimeAttribute(range_key=True)


class UsageEventModel(Model):
    """One item per answered /v1/messages request; the table's stream feeds the rollups."""

    class Meta:
        table_name = "overspill-usage-events"
        settings_field = "usage_table"
        stream_view_type = "NEW_IMAGE"

    request_id = UnicodeAttribute(hash_key=True)
    occurred_at = UTCDateTimeAttribute()
    day = UnicodeAttribute()
    user_id = UnicodeAttribute()
    key_prefix = UnicodeAttribute()
    session_id = UnicodeAttribute(null=True)
    model = UnicodeAttribute(null=True)
    route = UnicodeAttribute()                          # plan | bedrock
    fallback_reason = UnicodeAttribute(null=True)       # why Bedrock answered (overspill.fallback.FallbackReason)
    bedrock_model_id = UnicodeAttribute(null=True)
    endpoint = UnicodeAttribute()
    status = NumberAttribute()
    stop_reason = UnicodeAttribute(null=True)
    error_type = UnicodeAttribute(null=True)
    input_tokens = NumberAttribute(default=0)
    output_tokens = NumberAttribute(default=0)
    cache_creation_input_tokens = NumberAttribute(default=0)
    cache_read_input_tokens = NumberAttribute(default=0)
    ttfb_ms = NumberAttribute(null=True)
    duration_ms = NumberAttribute()
    overhead_ms = NumberAttribute(null=True)
    streamed = BooleanAttribute()
    client_disconnected = BooleanAttribute(default=False)
    upstream_request_id = UnicodeAttribute(null=True)
    user_name = UnicodeAttribute(null=True)             # the user as they were at the time of the request
    team = UnicodeAttribute(null=True)
    cost_center = UnicodeAttribute(null=True)
    cache_creation_5m_input_tokens = NumberAttribute(null=True)   # the TTL split, when the answer gave it
    cache_creation_1h_input_tokens = NumberAttribute(null=True)
    cost_usd = DecimalAttribute(null=True)              # None: the model has no price (cost_known false)
    cost_known = BooleanAttribute(default=True)
    price_snapshot = UnicodeAttribute(null=True)        # JSON: the exact prices the cost was computed with
    expires_at = TTLAttribute(null=True)
    by_day = UsageByDayIndex()
    by_user = UsageByUserIndex()


class RollupsByPeriodIndex(GlobalSecondaryIndex["UsageRollupModel"]):
    """Every rollup of one kind for one day or month (e.g. all users' rows of a day, for "top users")."""

    class Meta:
        index_name = "by_period"
        projection = AllProjection()

    kind_period = UnicodeAttribute(hash_key=True)       # "user_day#2026-11-24", "team_month#2026-11", …
    pk = UnicodeAttribute(range_key=True)


class UsageRollupModel(Model):
    """Sums of usage events, kept for good (see docs/data-model.md for the item kinds and keys).

    Also holds one marker per applied event (``applied#<request id>``, with a TTL): the rollup function writes
    the marker in the same transaction as the sums, so an event delivered twice is counted once."""

    class Meta:
        table_name = "overspill-usage-rollups"
        settings_field = "rollups_table"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)                  # user_day | user_month | team_day | team_month | org_day
    kind_period = UnicodeAttribute(null=True)           # | fallback_day; absent on markers (sparse index)
    period = UnicodeAttribute(null=True)                # YYYY-MM-DD or YYYY-MM
    user_id = UnicodeAttribute(null=True)
    team = UnicodeAttribute(null=True)
    model = UnicodeAttribute(null=True)
    route = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    requests = NumberAttribute(null=True)
    errors = NumberAttribute(null=True)
    input_tokens = NumberAttribute(null=True)
    output_tokens = NumberAttribute(null=True)
    cache_write_5m_tokens = NumberAttribute(null=True)
    cache_write_1h_tokens = NumberAttribute(null=True)
    cache_read_tokens = NumberAttribute(null=True)
    cost_usd = DecimalAttribute(null=True)              # priced requests only
    unpriced_requests = NumberAttribute(null=True)      # requests whose model had no price
    expires_at = TTLAttribute(null=True)                # markers only; rollups are kept
    by_period = RollupsByPeriodIndex()


class BreakerModel(Model):
    """One item per user: the memory of a plan limit (or failing plan) until it lifts.

    Written only on state changes, always conditionally, so racing instances agree on one outcome."""

    class Meta:
        table_name = "overspill-breakers"
        settings_field = "breakers_table"

    user_id = UnicodeAttribute(hash_key=True)
    state = UnicodeAttribute(default="closed")          # closed | open | half_open
    open_until = UTCDateTimeAttribute(null=True)
    reason = UnicodeAttribute(null=True)                # plan_limit | throttle | overloaded | server_error | …
    last_status = NumberAttribute(null=True)
    failures = NumberAttribute(default=0)               # in the current failure window
    window_started_at = UTCDateTimeAttribute(null=True)
    trips = NumberAttribute(default=0)                  # times opened, ever
    probe_until = UTCDateTimeAttribute(null=True)       # the half-open probe's lease
    probe_owner = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    revision = NumberAttribute(default=0)               # +1 per write: the condition of the next one

    class Transition(MapAttribute):
        state = UnicodeAttribute()                      # the state entered
        at = UTCDateTimeAttribute()
        reason = UnicodeAttribute(null=True)            # plan_limit, …, probe, probe_answered, admin_reset
        open_until = UTCDateTimeAttribute(null=True)
        last_status = NumberAttribute(null=True)

    # The last transitions, oldest first (overspill.breaker.HISTORY_LIMIT), written with each state change.
    history = ListAttribute(of=Transition, null=True)


class BedrockCredentialModel(Model):
    """A user's own Bedrock credentials, encrypted (AWS Encryption SDK, KMS); absent = the function's role."""

    class Meta:
        table_name = "overspill-bedrock-credentials"
        settings_field = "credentials_table"

    user_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()                           # api_key | access_key
    region = UnicodeAttribute(null=True)
    ciphertext = BinaryAttribute(legacy_encoding=False)
    hint = UnicodeAttribute()                           # masked, for display: "AKIA…WXYZ", "…abcd"
    updated_at = UTCDateTimeAttribute()
    revision = NumberAttribute(default=0)


class AuditModel(Model):
    """One item per admin mutation, never changed once written (the admin function may only add items).

    Partitioned by month so that "the latest entries" is one Query, newest first; ``entry_id`` starts with the
    time, so entries sort by when they happened."""

    class Meta:
        table_name = "overspill-audit"
        settings_field = "audit_table"

    month = UnicodeAttribute(hash_key=True)             # YYYY-MM (UTC)
    entry_id = UnicodeAttribute(range_key=True)         # "<ISO-8601 time>#<random>"
    at = UTCDateTimeAttribute()
    actor = UnicodeAttribute()                          # the Cognito username
    actor_sub = UnicodeAttribute()                      # the Cognito sub: stable across renames
    action = UnicodeAttribute()                         # user.create, key.revoke, credentials.set, …
    target_type = UnicodeAttribute()                    # user | key | credentials | breaker | pricing | export
    target_id = UnicodeAttribute(null=True)
    before = UnicodeAttribute(null=True)                # JSON, secrets masked
    after = UnicodeAttribute(null=True)                 # JSON, secrets masked
    request_id = UnicodeAttribute(null=True)


class IdempotencyModel(Model):
    """The table Powertools idempotency keeps admin creates in (its default attribute names). Declared here
    only for its schema, so that the local emulator and the CDK app create it like every other table."""

    class Meta:
        table_name = "overspill-idempotency"
        settings_field = "idempotency_table"

    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)


ALL_MODELS: tuple[type[Model], ...] = (
    UserModel, AccessKeyModel, UsageEventModel, BreakerModel, BedrockCredentialModel,
    UsageRollupModel, TeamModel, ConfigModel, AuditModel, IdempotencyModel,
)


def bind_models(settings: Settings) -> None:
    """Point every model at this deployment's table names, region and (for moto) endpoint."""
    for model in ALL_MODELS:
        meta = model.Meta
        meta.table_name = getattr(settings, meta.settings_field)
        meta.region = settings.region
        meta.host = settings.aws_endpoint_url
        # Time out quickly and retry a little: a stuck DynamoDB call must not hold a developer's request.
        meta.connect_timeout_seconds = 2
        meta.read_timeout_seconds = 5
        meta.max_retry_attempts = settings.aws_max_attempts - 1
        meta.max_pool_connections = 64  # the local emulator serves many requests at once in one process
        model._connection = None  # forget a connection bound to the previous settings


# Tables only the admin API touches: a proxy instance need not build their clients.
ADMIN_ONLY_MODELS: tuple[type[Model], ...] = (AuditModel, IdempotencyModel)


def warm_connections() -> None:
    """Create each request-path model's botocore client now, once. pynamodb creates it lazily without a lock,
    so a burst of first requests on many threads would each build one. Each pynamodb connection makes a botocore
    session of its own; given the instance's shared loader, DynamoDB's model and endpoint rules are parsed once
    rather than once per table (bench/lambda_costs.py measured 685 ms for eight tables before, most of it JSON)."""
    for model in ALL_MODELS:
        if model in ADMIN_ONLY_MODELS:
            continue
        connection = model._get_connection().connection
        connection.session.register_component("data_loader", shared_loader())
        connection.client  # noqa: B018 - the property creates the client
