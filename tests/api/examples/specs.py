"""Example calls for spec deployment."""
from tests.api.examples.foundation import instance
from tests.api.spec_fixtures import ORDER_SPEC

EXAMPLES = {
    ("POST", "/api/instances/{instance_id}/spec"): (
        lambda s, t: {"instance_id": instance(s, t)}, {"environment": "test", "spec": ORDER_SPEC}),
}
