"""Seed 000's blobs: binary data of an instance environment (WASM modules, config
files), stored in S3 at `<instance_id>/<env>/<name>`.

Internal surface (X-Node-Secret): list, upload, get, delete. Ops surface (admin JWT,
manage_ops): the listing only, from the same handler.

- Bodies are JSON (workers are HTTP clients of this JSON API): uploads send
  {"name", "content_type"?, "data": base64}; a GET answers the metadata plus "data".
- Names match ^[A-Za-z0-9._-]{1,200}$ and are not "." or "..": no '/', since a path
  parameter cannot hold one and such a blob could never be fetched or deleted.
- At most 4 MiB decoded (base64 makes ~5.6 MB, under Lambda's 6 MB request limit).
- Uploading an existing name replaces it: 201 when the blob is new, 200 when replaced;
  either way the answer is the stored metadata (created_at is the time of this upload).
- Listings are in name order, at most `limit` (default and cap 1000) per answer, with
  `next_cursor` (null on the last page) to pass back as `cursor`; the cursor is opaque
  (it names the last key listed), and one this listing did not give out answers 400.
"""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http.routing import route
from chalicelib.http.schemas import ISO_TIME, STRING, array, nullable, obj
from chalicelib.http.surfaces import INTERNAL, on_every_surface, where
from chalicelib.platform.blobs import service as blobs

bp = Blueprint(__name__)

LIST_QUERY = {"limit": {"type": "integer", "minimum": 1, "maximum": blobs.MAX_PAGE,
                        "default": blobs.MAX_PAGE},
              "cursor": {"type": "string", "minLength": 1, "maxLength": 2048}}
UPLOAD = {
    "type": "object",
    "required": ["name", "data"],
    "properties": {
        "name": blobs.NAME_SCHEMA,
        "content_type": {"type": "string", "pattern": f"^$|{blobs.CONTENT_TYPE.pattern}",
                         "description": "media type; application/octet-stream when absent "
                                        "or empty"},
        "data": {"type": "string", "pattern": blobs.BASE64,
                 "maxLength": (blobs.MAX_BYTES + 2) // 3 * 4,
                 "description": "the bytes in base64, at most 4 MiB decoded"},
    },
    "additionalProperties": False,
}

_BLOB_FIELDS = {
    "name": {"type": "string", "pattern": blobs.NAME.pattern},
    "size": {"type": "integer", "minimum": 0, "description": "bytes"},
    "content_type": STRING,
    "sha256": nullable({"type": "string", "pattern": "^[0-9a-f]{64}$",
                        "description": "SHA-256 of the bytes, hex"}),
    "created_at": nullable({**ISO_TIME, "description": "the time of the last upload"}),
}
BLOB_ANSWER = obj(_BLOB_FIELDS)
BLOB_PAGE_ANSWER = obj({"blobs": array(BLOB_ANSWER),
                        "next_cursor": nullable({**STRING, "description": "pass back as cursor; "
                                                 "null on the last page"})})
BLOB_DATA_ANSWER = obj({**_BLOB_FIELDS,
                        "data": {"type": "string", "contentEncoding": "base64",
                                 "description": "the bytes in base64"}})
BLOB_DELETED_ANSWER = obj({"deleted": {"const": True}, **_BLOB_FIELDS})


@on_every_surface(bp, "GET", "/blobs", None, summary="List the environment's blobs (paged)",
                  permission="manage_ops", query=LIST_QUERY, response=BLOB_PAGE_ANSWER)
def list_blobs(ctx, **params):
    instance_id, env = where(ctx, params)
    return blobs.list_page(instance_id, env, ctx.query.get("limit", blobs.MAX_PAGE),
                           ctx.query.get("cursor"))


@route(bp, INTERNAL + "/blobs", "POST", summary="Upload a blob (replaces one of the same name)",
       auth="node", body=UPLOAD, response=BLOB_ANSWER, status=201, statuses=(200,),
       tags=("internal",))
def upload_blob(ctx, **params):
    instance_id, env = where(ctx, params)
    meta, created = blobs.put(instance_id, env, ctx.body)
    ctx.status = 201 if created else 200
    return meta


@route(bp, INTERNAL + "/blobs/{name}", "GET", summary="A blob's metadata and bytes (base64)",
       auth="node", response=BLOB_DATA_ANSWER, tags=("internal",),
       path_schemas={"name": blobs.NAME_SCHEMA}, errors=("BLOB_NOT_FOUND",))
def get_blob(ctx, **params):
    instance_id, env = where(ctx, params)
    return blobs.get(instance_id, env, params["name"])


@route(bp, INTERNAL + "/blobs/{name}", "DELETE", summary="Delete a blob",
       auth="node", response=BLOB_DELETED_ANSWER, tags=("internal",),
       path_schemas={"name": blobs.NAME_SCHEMA}, errors=("BLOB_NOT_FOUND",))
def delete_blob(ctx, **params):
    instance_id, env = where(ctx, params)
    return blobs.delete(instance_id, env, params["name"])
