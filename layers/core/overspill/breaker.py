"""The plan-limit breaker: one item per user that remembers a limited (or failing) plan until it lifts.

closed ──plan limit / throttle / repeated failures──▶ open ──reset passed, one instance wins the probe──▶
half_open ──the probe's plan answer is good──▶ closed   (a bad one reopens it)

Reads: at most one per request (eventually consistent), none while this instance's copy of "closed" is
younger than ``cache_ttl``, or its copy of "open" is younger than ``open_recheck`` (so that an admin's reset
reaches warm instances). Writes: only on state changes, each conditional on the revision that was read, so
instances racing after the reset agree on exactly one probe. Each write also appends the transition to the
item's short history (the same write: nothing more on the request path).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from overspill.aws import error_code
from overspill.fallback import COUNTED_FAILURES, FallbackReason, FallbackSignal
from overspill.observability import emit_breaker_opened, logger


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


# Transitions kept on the item: enough to see a morning of flapping, small enough that the item stays cheap.
HISTORY_LIMIT = 20

# Why a breaker left "open" (an opening's reason is the fallback reason: plan_limit, throttle, …).
PROBING = "probe"
PROBE_ANSWERED = "probe_answered"
ADMIN_RESET = "admin_reset"


@dataclass(frozen=True, slots=True)
class Transition:
    state: BreakerState          # the state entered
    at: datetime
    reason: str | None = None
    open_until: datetime | None = None
    last_status: int | None = None   # the plan's status that caused it, when one did


@dataclass(frozen=True, slots=True)
class Breaker:
    user_id: str
    state: BreakerState = BreakerState.CLOSED
    open_until: datetime | None = None
    reason: str | None = None
    last_status: int | None = None
    failures: int = 0
    trips: int = 0
    probe_until: datetime | None = None
    probe_owner: str | None = None
    updated_at: datetime | None = None
    revision: int = 0
    history: tuple[Transition, ...] = ()     # oldest first, at most HISTORY_LIMIT


def moved(seen: Breaker, now: datetime, why: str, *, status: int | None = None, **changes: object) -> Breaker:
    """``seen`` changed by ``changes`` (its state among them), as the next revision, the move in its history."""
    new = replace(seen, **changes, updated_at=now, revision=seen.revision + 1)
    entry = Transition(new.state, now, why, new.open_until, status)
    return replace(new, history=(*seen.history, entry)[-HISTORY_LIMIT:])


def reset(seen: Breaker, now: datetime) -> Breaker:
    """Closed by an admin: the plan is tried again on the next request."""
    return moved(seen, now, ADMIN_RESET, state=BreakerState.CLOSED, open_until=None, failures=0,
                 probe_owner=None, probe_until=None)


class Route(StrEnum):
    PLAN = "plan"
    BEDROCK = "bedrock"
    PROBE = "probe"      # the plan, as the one request that tests whether the limit lifted


@dataclass(frozen=True, slots=True)
class Decision:
    route: Route
    breaker: Breaker
    reason: FallbackReason | None = None   # why Bedrock (when the route is Bedrock)
    probe_owner: str | None = None


class BreakerStore(Protocol):
    def get(self, user_id: str, *, consistent: bool = False) -> Breaker: ...

    def replace(self, new: Breaker, *, expected_revision: int) -> bool:
        """Write `new` if the stored revision is still `expected_revision` (0: no item yet)."""
        ...


PendingWrite = Callable[[], None]


@dataclass(slots=True)
class _Cached:
    breaker: Breaker
    read_at: float
    # An opening followed here before its write (which waits for the end of the response): re-reading it would
    # find the old state and send the next requests back to a plan known to be limited.
    unwritten: bool = False


class BreakerService:
    def __init__(
        self,
        store: BreakerStore,
        *,
        cache_ttl_s: float,
        failure_threshold: int,
        failure_window: timedelta,
        failure_cooldown: timedelta,
        probe_lease: timedelta,
        open_recheck_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cache_ttl_s = cache_ttl_s
        self._failure_threshold = failure_threshold
        self._failure_window = failure_window
        self._failure_cooldown = failure_cooldown
        self._probe_lease = probe_lease
        self._open_recheck_s = open_recheck_s
        self._now = clock
        self._monotonic = monotonic
        self._cache: dict[str, _Cached] = {}
        # Counted failures (5xx, 529, timeouts) are kept per instance: no write until they open the breaker.
        self._failures: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    # -- deciding -------------------------------------------------------------------------------------

    def decide(self, user_id: str) -> Decision:
        now = self._now()
        try:
            return self._decide(user_id, now)
        except Exception as error:  # noqa: BLE001 - DynamoDB throttled or unreachable after botocore's retries
            return self._fail_open(user_id, error)

    def _fail_open(self, user_id: str, error: Exception) -> Decision:
        """The breaker's item could not be read (or its probe lease written): go on with what this instance knew,
        or try the plan. A limited plan then answers 429 and the request falls back as usual; the cost of not
        knowing is one plan round trip, never a failed request."""
        with self._lock:
            cached = self._cache.get(user_id)
        known = cached.breaker if cached is not None else Breaker(user_id)
        now = self._now()
        if ((known.state is BreakerState.OPEN and known.open_until and now < known.open_until)
                or (known.state is BreakerState.HALF_OPEN and known.probe_until and now < known.probe_until)):
            decision = Decision(Route.BEDROCK, known, FallbackReason.BREAKER_OPEN)
        else:
            decision = Decision(Route.PLAN, known)
        # Remembered for the usual time, so that the next requests do not each wait for the same failing read.
        self._remember(known, unwritten=cached.unwritten if cached is not None else False)
        logger.warning("breaker state unreadable; routing without it", extra={
            "user_id": user_id, "route": str(decision.route), "known_state": str(known.state),
            "error": type(error).__name__, "error_code": error_code(error)})
        return decision

    def _decide(self, user_id: str, now: datetime) -> Decision:
        breaker = self._current(user_id, now)
        if breaker.state is BreakerState.CLOSED:
            return Decision(Route.PLAN, breaker)
        if breaker.state is BreakerState.OPEN and breaker.open_until and now < breaker.open_until:
            return Decision(Route.BEDROCK, breaker, FallbackReason.BREAKER_OPEN)
        if breaker.state is BreakerState.HALF_OPEN and breaker.probe_until and now < breaker.probe_until:
            return Decision(Route.BEDROCK, breaker, FallbackReason.BREAKER_OPEN)  # another request is probing
        return self._try_probe(breaker, now)

    def _current(self, user_id: str, now: datetime) -> Breaker:
        with self._lock:
            cached = self._cache.get(user_id)
        if cached is not None:
            b = cached.breaker
            age = self._monotonic() - cached.read_at
            if b.state is BreakerState.OPEN:
                # Open until the plan resets, unless an admin resets it first: look again now and then.
                still_open = b.open_until is not None and now < b.open_until
                if still_open and (cached.unwritten or age < self._open_recheck_s):
                    return b
            elif age < self._cache_ttl_s:
                return b
        return self._read(user_id)

    def _read(self, user_id: str, *, consistent: bool = False) -> Breaker:
        breaker = self._store.get(user_id, consistent=consistent)
        self._remember(breaker)
        return breaker

    def _remember(self, breaker: Breaker, *, unwritten: bool = False) -> None:
        with self._lock:
            self._cache[breaker.user_id] = _Cached(breaker, self._monotonic(), unwritten)

    def _try_probe(self, breaker: Breaker, now: datetime) -> Decision:
        owner = uuid.uuid4().hex
        probing = moved(breaker, now, PROBING, state=BreakerState.HALF_OPEN, probe_owner=owner,
                        probe_until=now + self._probe_lease)
        if self._store.replace(probing, expected_revision=breaker.revision):
            self._remember(probing)
            logger.info("breaker half-open: probing the plan", extra={"user_id": breaker.user_id})
            return Decision(Route.PROBE, probing, probe_owner=owner)
        # Another instance won the probe (or changed the state): follow what it wrote.
        latest = self._read(breaker.user_id, consistent=True)
        if latest.state is BreakerState.CLOSED:
            return Decision(Route.PLAN, latest)
        return Decision(Route.BEDROCK, latest, FallbackReason.BREAKER_OPEN)

    # -- learning from the plan's answer -------------------------------------------------------------------

    # The methods below change this instance's copy at once and return the DynamoDB write to run after the
    # response (None when there is nothing to write): the write never delays the developer's first byte.

    def plan_failed(self, decision: Decision, signal: FallbackSignal) -> PendingWrite | None:
        """The plan's answer (or its absence) sent this request to Bedrock; remember what it implies."""
        now = self._now()
        user_id = decision.breaker.user_id
        if signal.open_until is not None:
            return self._opening(decision.breaker, signal.open_until, signal.reason, signal.status, now)
        if signal.reason not in COUNTED_FAILURES:
            return None
        if decision.route is Route.PROBE:  # the probe failed: back to waiting, for the cooldown
            return self._opening(decision.breaker, now + self._failure_cooldown, signal.reason, signal.status, now)
        with self._lock:
            recent = [t for t in self._failures.get(user_id, []) if now - t < self._failure_window] + [now]
            self._failures[user_id] = recent
        if len(recent) < self._failure_threshold:
            return None
        with self._lock:
            self._failures.pop(user_id, None)
        return self._opening(decision.breaker, now + self._failure_cooldown, signal.reason, signal.status, now,
                             failures=len(recent))

    def plan_answered(self, decision: Decision) -> PendingWrite | None:
        """The plan gave an answer the developer gets (success or a client error): a probe closes it."""
        user_id = decision.breaker.user_id
        with self._lock:
            self._failures.pop(user_id, None)
        if decision.route is not Route.PROBE:
            return None
        now = self._now()
        closed = moved(decision.breaker, now, PROBE_ANSWERED, state=BreakerState.CLOSED, open_until=None,
                       probe_owner=None, probe_until=None, failures=0)
        self._remember(closed)

        def write() -> None:
            if self._store.replace(closed, expected_revision=decision.breaker.revision):
                logger.info("breaker closed: the plan answers again", extra={"user_id": user_id})
            else:
                self._read(user_id, consistent=True)

        return write

    def switch_early(self, decision: Decision, until: datetime, status: int) -> PendingWrite | None:
        """The plan answered, but reported utilisation over the threshold: use Bedrock from the next request."""
        return self._opening(decision.breaker, until, FallbackReason.EARLY_SWITCH, status, self._now())

    def _opening(self, seen: Breaker, until: datetime, reason: str, status: int | None, now: datetime, *,
                 failures: int = 0) -> PendingWrite | None:
        if seen.state is BreakerState.OPEN and seen.open_until and seen.open_until >= until:
            return None  # already open at least as long
        # Follow it here at once (same revision: the write, or a re-read, replaces this copy).
        self._remember(replace(seen, state=BreakerState.OPEN, open_until=until, reason=str(reason),
                               last_status=status, probe_owner=None, probe_until=None), unwritten=True)
        return lambda: self._open(seen, until, reason, status, now, failures=failures)

    def _open(self, seen: Breaker, until: datetime, reason: str, status: int | None, now: datetime, *,
              failures: int = 0) -> None:
        for _ in range(2):  # the item we read may be stale: one retry against the latest
            if seen.state is BreakerState.OPEN and seen.open_until and seen.open_until >= until:
                self._remember(seen)
                return  # already open at least as long
            opened = moved(seen, now, str(reason), status=status, state=BreakerState.OPEN, open_until=until,
                           reason=str(reason), last_status=status, failures=failures, trips=seen.trips + 1,
                           probe_owner=None, probe_until=None)
            if self._store.replace(opened, expected_revision=seen.revision):
                self._remember(opened)
                emit_breaker_opened(str(reason))
                logger.info("breaker opened", extra={"user_id": seen.user_id, "reason": str(reason),
                                                     "status": status, "open_until": until.isoformat()})
                return
            seen = self._read(seen.user_id, consistent=True)

