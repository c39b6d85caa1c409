"""Create every table, bucket and queue from their declarations (local stack and tests).

In AWS the same declarations become CloudFormation (scripts/gen_infra.py)."""
from __future__ import annotations

from chalicelib.store.aws import client
from chalicelib.store.buckets import BUCKETS, bucket_name
from chalicelib.store.tables import TABLES


def provision() -> None:
    for model in TABLES:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
    s3 = client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for logical in BUCKETS:
        name = bucket_name(logical)
        if name not in existing:
            extra = {} if s3.meta.region_name == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": s3.meta.region_name}}
            s3.create_bucket(Bucket=name, **extra)
    from chalicelib.store import queues
    queues.create_all()
