"""Fixtures shared by the fault-matrix tests (the integration tier's own fixtures apply too)."""

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from tests.integration.faults.harness import Rig, deployment  # noqa: E402


@pytest.fixture(scope="module")
def deployed() -> Iterator[Rig]:
    """One deployment for a module's upstream and client faults (each test takes a developer of its own)."""
    with deployment(key_cache_ttl_s=0.3, upstream_connect_timeout_s=1.0, upstream_read_timeout_s=10.0) as rig:
        yield rig


@pytest.fixture
def rig(deployed: Rig) -> Iterator[Rig]:
    yield deployed
    deployed.anthropic.clear()
    deployed.anthropic.set_default(None)
    deployed.bedrock.clear()
    deployed.bedrock.set_default(None)
