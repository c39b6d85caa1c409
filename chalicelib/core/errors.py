"""The one error registry: every error the control plane answers with.

Seed 004 fixes 4001 and 4009-4013; every other code is ours and listed in the
README's table, which a test keeps in step with this module.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorKind:
    name: str
    code: int
    status: int
    message: str


_KINDS = [
    ErrorKind("VALIDATION_ERROR", 4000, 400, "The request is not valid"),
    ErrorKind("INVALID_SIGNATURE", 4001, 403, "Challenge signature verification failed"),
    ErrorKind("UNAUTHENTICATED", 4002, 401, "A valid bearer token is required"),
    ErrorKind("TOKEN_EXPIRED", 4003, 401, "The token has expired. Log in again."),
    ErrorKind("INVALID_API_KEY", 4004, 401, "API key is missing, unknown or revoked"),
    ErrorKind("SESSION_REVOKED", 4005, 401, "The session has been logged out"),
    ErrorKind("INVALID_CREDENTIALS", 4006, 401, "Email or password is incorrect"),
    ErrorKind("STALE_TIMESTAMP", 4007, 401, "Timestamp is more than 300 seconds from the server clock"),
    ErrorKind("INVALID_NODE_SECRET", 4008, 401, "A valid X-Node-Secret header is required"),
    ErrorKind("INVALID_ADMIN", 4009, 401, "Device is not configured as admin"),
    ErrorKind("CHALLENGE_EXPIRED", 4010, 410, "Challenge has expired. Request a new one."),
    ErrorKind("INSUFFICIENT_PERMISSIONS", 4011, 403, "Admin does not have the required permission"),
    ErrorKind("INVALID_CONFIG", 4012, 400, "Invalid configuration value"),
    ErrorKind("DEVICE_NOT_FOUND", 4013, 404, "Device not found"),
    ErrorKind("INSTANCE_NOT_FOUND", 4041, 404, "Instance not found"),
    ErrorKind("KEY_NOT_FOUND", 4042, 404, "API key not found"),
    ErrorKind("ERROR_NOT_FOUND", 4043, 404, "No error with that id"),
    ErrorKind("KEY_REVOKED", 4091, 409, "API key is already revoked"),
    ErrorKind("DEVICE_KEY_MISMATCH", 4092, 409, "Device address does not match its public key"),
    ErrorKind("CONFIG_CONFLICT", 4093, 409, "The configuration changed concurrently; retry"),
    ErrorKind("FORCE_NOT_ALLOWED", 4121, 409, "force is refused in the prod environment"),
    ErrorKind("SPEC_ORPHANS_EVENTS", 4122, 409, "The spec drops types that have stored events"),
    ErrorKind("SPEC_DEPLOY_CONFLICT", 4123, 409, "Another deploy of this environment won; retry"),
    ErrorKind("SPEC_NOT_FOUND", 4044, 404, "No spec is deployed in this environment"),
    ErrorKind("INVALID_SPEC", 4220, 422, "The spec is not valid"),
    ErrorKind("UNKNOWN_AGGREGATE_TYPE", 4221, 422, "The aggregate type is not in the spec"),
    ErrorKind("UNKNOWN_EVENT_TYPE", 4222, 422, "The event type is not in the spec"),
    ErrorKind("SCHEMA_VIOLATION", 4223, 422, "The event does not match the spec's schema"),
    ErrorKind("HANDLER_FAILED", 4224, 422, "The spec's handler cannot apply this event"),
    ErrorKind("BATCH_TOO_LARGE", 4225, 422, "Too many events for one atomic write"),
    ErrorKind("IDEMPOTENCY_KEY_REUSED", 4226, 422,
              "X-Idempotency-Key was already used for a different request"),
    ErrorKind("EVENT_TOO_LARGE", 4228, 422, "The event exceeds the storage limit"),
    ErrorKind("STATE_TOO_LARGE", 4227, 422, "The aggregate's state would exceed the storage limit"),
    ErrorKind("CONCURRENT_WRITE", 4124, 409, "Concurrent write detected"),
    ErrorKind("AGGREGATE_NOT_FOUND", 4047, 404, "No events for this aggregate"),
    ErrorKind("INVALID_ID", 4229, 422, "Not an identifier the platform accepts"),
    ErrorKind("RATE_LIMITED", 4290, 429, "Too many requests"),
    ErrorKind("INTERNAL_ERROR", 5000, 500, "Internal error; quote error_id when reporting it"),
    ErrorKind("INTEGRITY_ERROR", 5001, 500, "The stream's stored Merkle data is damaged"),
    ErrorKind("SERVICE_UNAVAILABLE", 5030, 503, "A backing service is unavailable"),
    ErrorKind("DEVICE_ALREADY_VERIFIED", 4095, 409, "Device is already verified"),
    ErrorKind("DEVICE_NOT_VERIFIED", 4096, 409, "Device is not verified"),
    ErrorKind("DEVICE_BLOCKED", 4097, 409, "Device is blocked"),
    ErrorKind("DEVICE_NOT_BLOCKED", 4098, 409, "Device is not blocked"),
    ErrorKind("PEER_ALREADY_BLOCKED", 4099, 409, "Federation peer is already blocked"),
    ErrorKind("PEER_NOT_BLOCKED", 4089, 409, "Federation peer is not blocked"),
    ErrorKind("PEER_NOT_FOUND", 4046, 404, "Federation peer not found"),
    ErrorKind("BLOB_NOT_FOUND", 4049, 404, "No blob with that name in this environment"),
    ErrorKind("BACKUP_NOT_FOUND", 4140, 404, "No backup with that id in this environment"),
    ErrorKind("BACKUP_RUNNING", 4141, 409, "The backup is running; delete it once it ends"),
    ErrorKind("CHECKPOINT_NOT_FOUND", 4150, 404, "No checkpoint with that id in this environment"),
    ErrorKind("CHECKPOINT_BEYOND_STREAM", 4151, 422,
              "The length asked for is beyond the aggregate's stream"),
    ErrorKind("CHECKPOINT_HANDLERS_CHANGED", 4152, 409,
              "The checkpoint was folded by handlers the spec in force no longer has"),
    ErrorKind("CHECKPOINT_STALE", 4153, 409,
              "The checkpoint no longer matches the aggregate's stored events"),
    ErrorKind("ROOT_CHECKPOINT_NOT_FOUND", 4154, 404,
              "No root checkpoint with that id in this environment"),
    ErrorKind("ROOT_CHECKPOINT_RUNNING", 4155, 409,
              "The root checkpoint is being written; delete it once it ends"),
    ErrorKind("JOB_NOT_FOUND", 4160, 404, "No job with that id in this environment"),
    ErrorKind("JOB_FAILED", 4161, 422, "The job could not do its work"),
    ErrorKind("ENVIRONMENT_NOT_EMPTY", 4162, 409, "The environment already holds events"),
    ErrorKind("UPLOAD_NOT_FOUND", 4163, 404,
              "Nothing was uploaded under that upload_id (or its URL expired unused)"),
    ErrorKind("INJECT_NOT_ALLOWED", 4164, 403,
              "Test data may be injected into staging or test only, never prod"),
    ErrorKind("RESTORE_NOT_ALLOWED", 4165, 409,
              "A backup restores into an empty environment, or with replace into "
              "staging or test"),
    ErrorKind("BACKUP_NOT_COMPLETED", 4166, 409, "Only a completed backup can be restored"),
    ErrorKind("SCHEDULED_EVENT_NOT_FOUND", 4170, 404,
              "No scheduled event with that id in this environment"),
    ErrorKind("SCHEDULED_EVENT_NOT_PENDING", 4171, 409,
              "Only a pending scheduled event can be cancelled"),
    ErrorKind("SCHEDULED_EVENT_NOT_FAILED", 4172, 409,
              "Only a failed scheduled event (a dead letter) can be retried"),
    ErrorKind("SCHEDULED_EVENT_TAKEN", 4173, 409,
              "The scheduled event was emitted or cancelled meanwhile"),
    ErrorKind("TOMBSTONE_NOT_FOUND", 4200, 404, "No tombstone with that id in this environment"),
    ErrorKind("TOMBSTONE_NOT_PENDING", 4201, 409,
              "The tombstone is no longer pending (executing, executed or cancelled)"),
    ErrorKind("TOMBSTONE_GRACE_PERIOD", 4202, 409,
              "The tombstone's grace period has not passed; see executable_at"),
    ErrorKind("TOMBSTONE_EXISTS", 4203, 409,
              "The aggregate already has a pending, executing or executed tombstone"),
    ErrorKind("GRACE_PERIOD_TOO_SHORT", 4204, 422,
              "The grace period asked for is shorter than the environment's minimum"),
    ErrorKind("AGGREGATE_TOMBSTONED", 4205, 410,
              "The aggregate was erased by a tombstone (or is being erased)"),
    ErrorKind("SAGA_NOT_FOUND", 4180, 404, "No saga with that id in this environment"),
    ErrorKind("SAGA_NOT_RETRYABLE", 4181, 409,
              "Only a failed or compensated saga can be retried"),
    ErrorKind("DELIVERY_NOT_FOUND", 4190, 404, "No delivery with that id in this environment"),
    ErrorKind("DELIVERY_NOT_RETRYABLE", 4191, 409, "Only a failed delivery can be retried"),
]

KINDS: dict[str, ErrorKind] = {k.name: k for k in _KINDS}


class AppError(Exception):
    """An error the client caused or may act on; answered in the documented shape."""

    def __init__(self, name: str, message: str | None = None, *, details=None,
                 headers: dict | None = None, extra: dict | None = None):
        kind = KINDS[name]
        super().__init__(message or kind.message)
        self.kind = kind
        self.message = message or kind.message
        self.details = details
        self.headers = headers or {}
        self.extra = extra or {}

    @property
    def status(self) -> int:
        return self.kind.status

    def admin_body(self) -> dict:
        body = {"error": self.kind.name, "message": self.message, "code": self.kind.code}
        if self.details is not None:
            body["details"] = self.details
        body.update(self.extra)
        return body

    def data_body(self) -> dict:
        """The event platform's own error shape, for the /data surface."""
        body = {"ok": False, "error": self.message, "code": self.kind.name}
        if self.details is not None:
            body["details"] = self.details
        body.update(self.extra)
        return body


def invalid(path: str, message: str, summary: str | None = None) -> AppError:
    """The 400 VALIDATION_ERROR for one bad field: `details` names it, and the message
    reads "<path>: <message>" unless a summary is given."""
    return AppError("VALIDATION_ERROR", summary or (f"{path}: {message}" if path else message),
                    details=[{"path": path, "message": message}])
