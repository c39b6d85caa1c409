"""Tombstones: GDPR erasure of an aggregate's payloads after a grace period."""
