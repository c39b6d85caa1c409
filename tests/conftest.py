"""Every test runs in the test environment, set before any project import reads it."""
import testing.env  # noqa: F401
