"""The background loop of the local event source mappings (overspill/local/poller.py): rounds on a thread, a last
round on stop, and a failed round that is logged without ending the loop."""

from __future__ import annotations

import json
import threading

from overspill.local.poller import Poller


class CountingPoller(Poller):
    """Counts its rounds; the first ``failures`` of them raise."""

    def __init__(self, *, interval_s: float, failures: int = 0) -> None:
        super().__init__(thread_name="test-poller", interval_s=interval_s, log_name="test poller",
                         log_extra={"function": "overspill-test"})
        self.rounds = 0
        self.failures = failures
        self.third_round = threading.Event()

    def _round(self) -> None:
        self.rounds += 1
        if self.rounds >= 3:
            self.third_round.set()
        if self.rounds <= self.failures:
            raise RuntimeError(f"round {self.rounds} failed")


def _running(thread_name: str) -> bool:
    return any(thread.name == thread_name for thread in threading.enumerate())


def test_rounds_run_in_the_background_until_stop():
    poller = CountingPoller(interval_s=0.01)
    poller.start()
    assert poller.third_round.wait(5)
    poller.stop()
    assert not _running("test-poller")


def test_stop_runs_a_last_round_without_waiting_for_the_interval():
    poller = CountingPoller(interval_s=60)
    poller.start()
    poller.stop(timeout_s=5)
    assert poller.rounds == 1  # what the source held when stopping is delivered
    assert not _running("test-poller")


def test_a_failed_round_is_logged_and_the_next_one_runs(captured_logs):
    poller = CountingPoller(interval_s=0.01, failures=2)
    poller.start()
    assert poller.third_round.wait(5)
    poller.stop()
    warnings = [json.loads(line) for line in captured_logs.getvalue().splitlines() if "polling failed" in line]
    assert [(w["level"], w["message"], w["function"], w["error"]) for w in warnings] == [
        ("WARNING", "test poller: polling failed", "overspill-test", "RuntimeError: round 1 failed"),
        ("WARNING", "test poller: polling failed", "overspill-test", "RuntimeError: round 2 failed"),
    ]


def test_a_failed_last_round_does_not_fail_stop(captured_logs):
    poller = CountingPoller(interval_s=60, failures=1)
    poller.start()
    poller.stop(timeout_s=5)
    assert poller.rounds == 1 and "RuntimeError: round 1 failed" in captured_logs.getvalue()

