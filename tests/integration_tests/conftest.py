"""Fixtures shared by the integration tests: the embedded SmolLM2 model, loaded once."""

from __future__ import annotations

import pytest

from rain_guard.backends.loading import load_backend


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under integration_tests/ is an integration test."""
    for item in items:
        if "integration_tests" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def smollm2():
    """The embedded SmolLM2-135M-Instruct backend (converted once, then cached)."""
    return load_backend("smollm2")
