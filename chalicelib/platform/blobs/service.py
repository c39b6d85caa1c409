"""Seed 000's blobs: binary data of an instance environment (WASM modules, config
files), one S3 object per blob at `<instance_id>/<env>/<name>` in the "blobs" bucket.

Each object carries its content type (S3's Content-Type) and, as user metadata, the
SHA-256 of its bytes and its creation time; answers never read the bytes to describe a blob.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor

from chalicelib.core import clock
from chalicelib.core.errors import AppError, invalid
from chalicelib.store import aws
from chalicelib.store.buckets import bucket_name

# No '/': API Gateway path parameters cannot hold one, so such a blob could be uploaded
# but never addressed by GET or DELETE. "." and ".." are refused (clients normalise them).
NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
NAME_SCHEMA = {"type": "string", "pattern": r"^(?!\.\.?$)[A-Za-z0-9._-]{1,200}$",
               "description": "letters, digits, '.', '_', '-'; not '.' or '..'"}
# canonical base64: padded, and the bits the padding leaves over are zero
BASE64 = (r"^(?:[A-Za-z0-9+/]{4})*"
          r"(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$")
CONTENT_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]{1,100}/[A-Za-z0-9!#$&^_.+-]{1,100}"
                          r"([ \t]*;[ \t]*[A-Za-z0-9!#$&^_.+-]+=[A-Za-z0-9!#$&^_.+\"-]+){0,4}$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_BYTES = 4 * 1024 * 1024     # decoded; base64 makes it ~5.6 MB, under Lambda's 6 MB
MAX_PAGE = 1000                 # S3's own page size
_HEAD_WORKERS = 16


def check_name(name) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in (".", ".."):
        raise invalid("name", "must match ^[A-Za-z0-9._-]{1,200}$ and not be '.' or '..'")
    return name


def _prefix(instance_id: str, env: str) -> str:
    return f"{instance_id}/{env}/"


def _key(instance_id: str, env: str, name: str) -> str:
    return _prefix(instance_id, env) + name


def _bucket() -> str:
    return bucket_name("blobs")


def _s3():
    return aws.client("s3")


def _missing(exc) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _describe(name: str, head: dict) -> dict:
    meta = head.get("Metadata") or {}
    created = meta.get("created-at")
    if created and created.isdigit():
        created_at = clock.iso(int(created))
    else:
        created_at = clock.iso(head["LastModified"].timestamp()) if head.get("LastModified") else None
    return {"name": name, "size": int(head.get("ContentLength", 0)),
            "content_type": head.get("ContentType") or DEFAULT_CONTENT_TYPE,
            "sha256": meta.get("sha256"), "created_at": created_at}


def _head(instance_id: str, env: str, name: str) -> dict | None:
    from botocore.exceptions import ClientError
    try:
        return _s3().head_object(Bucket=_bucket(), Key=_key(instance_id, env, name))
    except ClientError as exc:
        if _missing(exc):
            return None
        raise


def put(instance_id: str, env: str, body: dict) -> tuple[dict, bool]:
    """Store (or replace) a blob; (metadata, created) - created is False on a replace."""
    name = check_name(body.get("name"))
    content_type = body.get("content_type") or DEFAULT_CONTENT_TYPE
    if not isinstance(content_type, str) or not CONTENT_TYPE.fullmatch(content_type):
        raise invalid("content_type", "must be a media type such as application/wasm")
    data = body.get("data")
    if not isinstance(data, str):
        raise invalid("data", "must be a base64 string")
    if len(data) > (MAX_BYTES + 2) // 3 * 4 + 8:   # too long before decoding anything
        raise invalid("data", f"decodes to more than {MAX_BYTES} bytes")
    try:
        raw = base64.b64decode(data, validate=True)
        if base64.b64encode(raw).decode() != data:  # excess padding, stray bits
            raise ValueError("not canonical")
    except (binascii.Error, ValueError):
        raise invalid("data", "is not valid base64 (RFC 4648 standard alphabet, padded)")
    if len(raw) > MAX_BYTES:
        raise invalid("data", f"decodes to {len(raw)} bytes, more than {MAX_BYTES}")
    existed = _head(instance_id, env, name) is not None
    digest = hashlib.sha256(raw).hexdigest()
    now = clock.now_int()
    _s3().put_object(Bucket=_bucket(), Key=_key(instance_id, env, name), Body=raw,
                     ContentType=content_type,
                     Metadata={"sha256": digest, "created-at": str(now)})
    return {"name": name, "size": len(raw), "content_type": content_type, "sha256": digest,
            "created_at": clock.iso(now)}, not existed


def get(instance_id: str, env: str, name: str) -> dict:
    from botocore.exceptions import ClientError
    check_name(name)
    try:
        obj = _s3().get_object(Bucket=_bucket(), Key=_key(instance_id, env, name))
    except ClientError as exc:
        if _missing(exc):
            raise AppError("BLOB_NOT_FOUND", f"No blob named {name!r} in this environment")
        raise
    raw = obj["Body"].read()
    return {**_describe(name, obj), "size": len(raw), "data": base64.b64encode(raw).decode()}


def delete(instance_id: str, env: str, name: str) -> dict:
    check_name(name)
    head = _head(instance_id, env, name)
    if head is None:
        raise AppError("BLOB_NOT_FOUND", f"No blob named {name!r} in this environment")
    _s3().delete_object(Bucket=_bucket(), Key=_key(instance_id, env, name))
    return {"deleted": True, **_describe(name, head)}


def list_page(instance_id: str, env: str, limit: int = MAX_PAGE,
              cursor: str | None = None) -> dict:
    """One page in name order; `next_cursor` when more remain. The cursor is ours, not
    S3's continuation token: the base64url of the last key of the page (relative to the
    environment's prefix), listed from with StartAfter, so a cursor that is not one
    answers 400 before S3 is asked."""
    prefix = _prefix(instance_id, env)
    args = {"Bucket": _bucket(), "Prefix": prefix, "MaxKeys": min(max(limit, 1), MAX_PAGE)}
    if cursor:
        args["StartAfter"] = prefix + _cursor_name(cursor, prefix)
    page = _s3().list_objects_v2(**args)
    keys = [o["Key"][len(prefix):] for o in page.get("Contents", [])]
    names = [n for n in keys if n and "/" not in n]

    def describe(name):
        head = _head(instance_id, env, name)
        return _describe(name, head) if head is not None else None  # deleted meanwhile

    if len(names) > 1:
        with ThreadPoolExecutor(max_workers=min(_HEAD_WORKERS, len(names))) as pool:
            blobs = list(pool.map(describe, names))
    else:
        blobs = [describe(n) for n in names]
    out = {"blobs": [b for b in blobs if b is not None]}
    out["next_cursor"] = _cursor(keys[-1]) if page.get("IsTruncated") and keys else None
    return out


_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,1400}$")
_MAX_KEY_BYTES = 1024   # S3's limit on a key, so on StartAfter too


def _cursor(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _cursor_name(cursor: str, prefix: str) -> str:
    """The key (after `prefix`) a cursor of ours names; 400 for anything else."""
    try:
        if not _CURSOR.fullmatch(cursor):
            raise ValueError("alphabet")
        name = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        if _cursor(name) != cursor or any(ord(c) < 0x20 or c == "\x7f" for c in name):
            raise ValueError("not canonical")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "is not a cursor from this listing")
    if not name or len((prefix + name).encode()) > _MAX_KEY_BYTES:
        raise invalid("cursor", "is not a cursor from this listing")
    return name
