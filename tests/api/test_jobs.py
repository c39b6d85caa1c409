"""Every scheduled Lambda runs through Chalice, and running it again is harmless."""
import pytest

from chalicelib import features


@pytest.mark.parametrize("name", sorted(features.JOBS))
def test_each_job_runs_twice_through_its_lambda(stack, name):
    import app
    assert callable(getattr(app, f"job_{name}"))
    event = stack.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                                  detail={}, resources=[])
    first = stack.client.lambda_.invoke(f"job_{name}", event)
    second = stack.client.lambda_.invoke(f"job_{name}", event)
    assert isinstance(first.payload, dict) and isinstance(second.payload, dict)
    if name in ("key_revocations", "counter_prune"):
        assert set(second.payload.values()) == {0}  # nothing left to do
