"""Every DynamoDB table, declared once, grouped by what it serves. Nothing outside
store/ names a table; every module imports them from here."""
from __future__ import annotations

from chalicelib.store.tables.chat import (
    Alert,
    Counter,
    Device,
    FederationPeer,
    MetricBucket,
)
from chalicelib.store.tables.identity import (
    AuditEntry,
    Challenge,
    ErrorRecord,
    MetaItem,
    Operator,
    RateCounter,
    Session,
)
from chalicelib.store.tables.jobs import Job
from chalicelib.store.tables.webhooks import Delivery, ListenerSecret
from chalicelib.store.tables.schedules import CancelRegistration, ScheduledEvent
from chalicelib.store.tables.tombstones import Tombstone, TombstoneLock
from chalicelib.store.tables.sagas import SagaInstance, SagaWaiter
from chalicelib.store.tables.platform import (
    ApiKey,
    ApiKeyId,
    Backup,
    BackupSetting,
    Checkpoint,
    IdempotencyRecord,
    Instance,
    MerkleTile,
    RootCheckpoint,
    RootCheckpointSetting,
    SpecVersion,
    StateSnapshot,
    StoredEvent,
    StreamHead,
    StreamTypeCounter,
)

TABLES = [Operator, Session, Challenge, Device, Instance, ApiKey, ApiKeyId, AuditEntry, ErrorRecord, MetaItem,
          FederationPeer, Counter, MetricBucket, RateCounter, Alert, SpecVersion, StreamHead,
          StoredEvent, MerkleTile, IdempotencyRecord, StreamTypeCounter, Backup, BackupSetting,
          Job, StateSnapshot, Checkpoint, RootCheckpoint, RootCheckpointSetting]
TABLES += [SagaInstance, SagaWaiter]
TABLES += [Tombstone, TombstoneLock]
TABLES += [ScheduledEvent, CancelRegistration]
TABLES += [Delivery, ListenerSecret]
