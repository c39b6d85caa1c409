"""API tests: the Chalice app driven through chalice.test.Client against moto."""
import pytest

from chalicelib.core import clock
from testing.stack import (  # noqa: F401
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    NODE_SECRET,
    VECTOR_ADDRESS,
    VECTOR_SEED,
    Answer,
    Stack,
    bootstrapped,
    mocked_aws,
)


@pytest.fixture
def frozen_clock(monkeypatch):
    """Time stands still unless the test moves it (clock.advance), so ages are exact."""
    import time
    base = float(int(time.time()))
    monkeypatch.setattr(clock, "now", lambda: base + clock._offset)


@pytest.fixture(scope="package")
def aws_mock():
    """One moto mock per test process: tables are created once and emptied per test,
    which is several times faster than re-creating twenty tables for every test."""
    with mocked_aws():
        yield


@pytest.fixture
def stack(aws_mock):
    with bootstrapped() as stack:
        yield stack
