"""Example calls for config and audit routes."""

EXAMPLES = {
    ("PATCH", "/admin/v1/config"): (None, {"progressive_trust": {"new_tier_limit": 15}}),
}
