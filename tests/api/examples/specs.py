"""Example calls for spec deployment."""
from testing.specs import ORDER_SPEC
from tests.api.examples.foundation import instance

EXAMPLES = {
    ("POST", "/api/instances/{instance_id}/spec"): (
        lambda s, t: {"instance_id": instance(s, t)}, {"environment": "test", "spec": ORDER_SPEC}),
}
