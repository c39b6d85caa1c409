"""Recording the AWS API calls made in a block of code, to count round trips."""
from contextlib import contextmanager
from unittest import mock


@contextmanager
def recording():
    """Yields a list that fills with (operation, params) for every AWS call inside."""
    import botocore.client
    seen = []
    real = botocore.client.BaseClient._make_api_call

    def spy(self, operation, params):
        seen.append((operation, params))
        return real(self, operation, params)

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", spy):
        yield seen


def operations(calls) -> list[str]:
    return [operation for operation, _ in calls]
