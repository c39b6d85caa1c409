"""Writing one S3 object as a stream, memory bounded: bytes are buffered up to
PART_BYTES and sent as the parts of a multipart upload (one PutObject when the whole
object fits in one part); the SHA-256 and size of what was written are kept as it goes.

GzipLinesWriter compresses what it is given, each part as a complete gzip member: the
object is a valid gzip file (RFC 1952 allows members one after another, and every gzip
reader, Python's included, reads them as one stream), so a writer can stop after any
part and another carry on from the parts written (`state()` / `resume=`) without the
compressor's state. Only the running SHA-256 cannot be carried over: a resumed writer
reports None, and the caller hashes the finished object (`sha256_of`)."""
from __future__ import annotations

import hashlib
import zlib

from chalicelib.store import aws

PART_BYTES = 8 * 1024 * 1024     # what a part holds before it is sent
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's least part, the last one excepted


class MultipartWriter:
    def __init__(self, bucket: str, key: str, content_type: str,
                 part_bytes: int | None = None, metadata: dict | None = None,
                 resume: dict | None = None):
        self.bucket, self.key, self.content_type = bucket, key, content_type
        self.part_bytes = part_bytes or PART_BYTES
        self.metadata = metadata or {}
        self._s3 = aws.client("s3")
        self._buffer = bytearray()
        resume = resume or {}
        self._upload_id: str | None = resume.get("upload_id")
        self._parts: list[dict] = [dict(p) for p in resume.get("parts") or []]
        self.size = int(resume.get("size", 0))
        self._digest = None if self._parts else hashlib.sha256()

    @property
    def parts(self) -> int:
        return len(self._parts)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def state(self) -> dict:
        """What another writer needs to carry on after the parts sent so far (what is
        buffered is not included: call it right after a cut)."""
        return {"upload_id": self._upload_id, "parts": [dict(p) for p in self._parts],
                "size": self.size - len(self._buffer)}

    def write(self, data: bytes) -> None:
        """Add bytes; a full part is sent at once."""
        self.append(data)
        if len(self._buffer) >= self.part_bytes:
            self.cut()

    def append(self, data: bytes) -> None:
        """Add bytes to the current part without sending it, however large it grows."""
        self._buffer += data
        if self._digest is not None:
            self._digest.update(data)
        self.size += len(data)

    def cut(self) -> None:
        """Send what is buffered as the next part."""
        if self._upload_id is None:
            self._upload_id = self._s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self.content_type,
                Metadata=self.metadata)["UploadId"]
        number = len(self._parts) + 1
        etag = self._s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                    PartNumber=number, Body=bytes(self._buffer))["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})
        self._buffer = bytearray()

    def close(self) -> tuple[int, str | None]:
        """Finish the object; (size, sha256 hex, or None when this writer resumed
        another's and so did not see every byte)."""
        if self._upload_id is None:
            self._s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer),
                                ContentType=self.content_type,
                                Metadata={**self.metadata, "sha256": self._digest.hexdigest()})
        else:
            if self._buffer:
                self.cut()
            self._s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key,
                                               UploadId=self._upload_id,
                                               MultipartUpload={"Parts": self._parts})
        self._buffer = bytearray()
        return self.size, self._digest.hexdigest() if self._digest is not None else None

    def abort(self) -> None:
        """Give up: a started multipart upload is aborted (its parts are not kept)."""
        if self._upload_id is None:
            return
        try:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                            UploadId=self._upload_id)
        except Exception:  # noqa: BLE001 - the error that made us abort matters more
            from chalicelib.core.observability import logger
            logger.exception("could not abort a multipart upload", extra={"key": self.key})


class GzipLinesWriter:
    """Text lines into a gzip object in S3, memory bounded (see the module's note)."""

    def __init__(self, bucket: str, key: str, part_bytes: int | None = None,
                 content_type: str = "application/gzip", resume: dict | None = None):
        self._out = MultipartWriter(bucket, key, content_type, part_bytes, resume=resume)
        self._z = self._member()
        self._pending = 0        # compressed bytes of the current member, so far
        self.lines = int((resume or {}).get("lines", 0))

    @staticmethod
    def _member():
        return zlib.compressobj(6, zlib.DEFLATED, 31)   # 31: a gzip header and trailer

    def write_line(self, text: str) -> bool:
        """Add a line; True when this ended a member and sent it as a part."""
        chunk = self._z.compress(text.encode())
        self.lines += 1
        self._pending += len(chunk)
        self._out.append(chunk)       # parts are cut only where a member ends
        if self._pending >= self._out.part_bytes:
            self._cut()
            return True
        return False

    def cut_if_possible(self) -> bool:
        """End the member and send it now if it is big enough to be a part (S3's least
        part size); True when it did."""
        if self._out.buffered < MIN_PART_BYTES:
            return False
        self._cut()
        return True

    def _cut(self) -> None:
        self._out.append(self._z.flush())
        self._out.cut()
        self._z = self._member()
        self._pending = 0

    def state(self) -> dict:
        """Where a writer resuming this one starts (valid right after a cut)."""
        return {**self._out.state(), "lines": self.lines}

    @property
    def size(self) -> int:
        return self._out.size

    @property
    def parts(self) -> int:
        return self._out.parts

    def close(self) -> tuple[int, str | None]:
        """Finish the last member and the object; (size, sha256 hex or None) of the gzip
        bytes."""
        self._out.append(self._z.flush())
        return self._out.close()

    def abort(self) -> None:
        self._out.abort()


def sha256_of(bucket: str, key: str, chunk: int = 1024 * 1024) -> str:
    """SHA-256 of an object, read as a stream (memory holds one chunk)."""
    body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    while True:
        block = body.read(chunk)
        if not block:
            return digest.hexdigest()
        digest.update(block)
