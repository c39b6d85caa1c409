"""Every S3 bucket, declared once."""
from __future__ import annotations

from chalicelib.core import settings

# logical name -> what it holds
BUCKETS = {
    "blobs": "binary blobs of instances (WASM modules, config files)",
    "backups": "event-store backups and root checkpoints",
    "exports": "audit and event exports too large for one response",
    "uploads": "files to load (JSON Lines), uploaded for data-loading jobs",
    "dashboard": "the operator dashboard's built files (dashboard/dist), served under /dashboard/",
}


def bucket_name(logical: str) -> str:
    if logical not in BUCKETS:
        raise KeyError(logical)
    return settings.get().bucket_prefix + logical
