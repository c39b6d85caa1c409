"""Service tests: the services called directly against moto, without HTTP, for the
conflict and retry paths a request cannot reach on demand (a stale read, a lost
conditional write, two runs of one job)."""
import pytest

from chalicelib.identity import audit
from chalicelib.identity.principal import Principal
from testing.stack import bootstrapped, mocked_aws

OPERATOR = Principal(subject="admin@example.com", kind="operator", permissions=("all",))


def act(action: str) -> audit.Act:
    """The operator performing `action`, as a route would hand it to a service."""
    return audit.Act(OPERATOR, action)


@pytest.fixture(scope="package")
def aws_mock():
    with mocked_aws():
        yield


@pytest.fixture
def store(aws_mock):
    """Empty tables and buckets, caches and clock reset, the deployment bootstrapped."""
    with bootstrapped() as stack:
        yield stack
