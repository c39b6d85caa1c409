"""Writing one S3 object as a stream, memory bounded: bytes are buffered up to
PART_BYTES and sent as the parts of a multipart upload (one PutObject when the whole
object fits in one part); the SHA-256 and size of what was written are kept as it goes.

GzipLinesWriter compresses what it is given, each part as a complete gzip member: the
object is a valid gzip file (RFC 1952 allows members one after another, and every gzip
reader, Python's included, reads them as one stream), and a writer could stop after any
part and another carry on from the parts written without the compressor's state."""
from __future__ import annotations

import hashlib
import zlib

from chalicelib.store import aws

PART_BYTES = 8 * 1024 * 1024     # S3 parts must be >= 5 MiB except the last


class MultipartWriter:
    def __init__(self, bucket: str, key: str, content_type: str,
                 part_bytes: int | None = None, metadata: dict | None = None):
        self.bucket, self.key, self.content_type = bucket, key, content_type
        self.part_bytes = part_bytes or PART_BYTES
        self.metadata = metadata or {}
        self.size = 0
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self._parts: list[dict] = []
        self._upload_id: str | None = None
        self._s3 = aws.client("s3")

    @property
    def parts(self) -> int:
        return len(self._parts)

    def write(self, data: bytes) -> None:
        """Add bytes; a full part is sent at once."""
        self.append(data)
        if len(self._buffer) >= self.part_bytes:
            self.cut()

    def append(self, data: bytes) -> None:
        """Add bytes to the current part without sending it, however large it grows."""
        self._buffer += data
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

    def close(self) -> tuple[int, str]:
        """Finish the object; (size, sha256 hex)."""
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
        return self.size, self._digest.hexdigest()

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
                 content_type: str = "application/gzip"):
        self._out = MultipartWriter(bucket, key, content_type, part_bytes)
        self._z = self._member()
        self._pending = 0        # compressed bytes of the current member, so far
        self.lines = 0
        self.raw_bytes = 0

    @staticmethod
    def _member():
        return zlib.compressobj(6, zlib.DEFLATED, 31)   # 31: a gzip header and trailer

    def write_line(self, text: str) -> None:
        raw = text.encode()
        self.lines += 1
        self.raw_bytes += len(raw)
        chunk = self._z.compress(raw)
        self._pending += len(chunk)
        self._out.append(chunk)       # parts are cut only where a member ends
        if self._pending >= self._out.part_bytes:
            self._out.append(self._z.flush())
            self._out.cut()
            self._z = self._member()
            self._pending = 0

    @property
    def size(self) -> int:
        return self._out.size

    def close(self) -> tuple[int, str]:
        """Finish the last member and the object; (size, sha256 hex) of the gzip bytes."""
        self._out.append(self._z.flush())
        return self._out.close()

    def abort(self) -> None:
        self._out.abort()
