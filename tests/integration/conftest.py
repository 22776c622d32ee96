"""Fixtures for the integration tier: servers on loopback, each cleaned up after its test."""

from collections.abc import Iterator

import pytest

from tests.support.runtime_api import RuntimeApiEmulator


@pytest.fixture
def runtime_api() -> Iterator[RuntimeApiEmulator]:
    """A Lambda Runtime API emulator with streaming (/response with chunks and trailers) on 127.0.0.1."""
    with RuntimeApiEmulator() as api:
        yield api


# --- The gateway in-process (moto + the real proxy behind the Function URL emulator) against a fake Anthropic.

from tests.support.fake_anthropic import FakeAnthropic  # noqa: E402
from tests.support.fake_bedrock import FakeBedrock  # noqa: E402
from tests.support.gateway import Developer, LocalGateway  # noqa: E402


@pytest.fixture
def anthropic() -> Iterator[FakeAnthropic]:
    """A fake Anthropic API on loopback speaking real SSE and real error bodies."""
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def bedrock() -> Iterator[FakeBedrock]:
    """A fake Bedrock runtime on loopback speaking the AWS event-stream format."""
    with FakeBedrock() as fake:
        yield fake


@pytest.fixture
def gateway(anthropic: FakeAnthropic, bedrock: FakeBedrock) -> Iterator[LocalGateway]:
    with LocalGateway(anthropic.url, bedrock.url, key_cache_ttl_s=0.3, upstream_connect_timeout_s=1.0) as gw:
        yield gw


@pytest.fixture
def developer(gateway: LocalGateway) -> Developer:
    return gateway.add_developer("Ada")


from tests.support.aws_faults import AwsFaults  # noqa: E402


@pytest.fixture
def aws() -> Iterator[AwsFaults]:
    """AWS faults injected in front of moto (tests/support/aws_faults.py); make the gateway after it."""
    with AwsFaults() as faults:
        yield faults



# --- The admin API in-process (moto + a stand-in Cognito token issuer + the real admin function on loopback).

from tests.support.admin import AdminHarness  # noqa: E402


@pytest.fixture
def admin() -> Iterator[AdminHarness]:
    with AdminHarness() as harness:
        yield harness
