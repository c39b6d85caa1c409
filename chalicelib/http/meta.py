"""The API's own description."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http.routing import route
from chalicelib.http.schemas import STRING, obj

bp = Blueprint(__name__)

OPENAPI_ANSWER = obj({
    "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$"},
    "info": obj({"title": STRING, "version": STRING}, {"description": STRING}),
    "paths": {"type": "object"},
    "components": {"type": "object"},
}, {"servers": {"type": "array", "items": {"type": "object"}}})


@route(bp, "/openapi.json", "GET", summary="This API as an OpenAPI 3.1 document", auth="public",
       response=OPENAPI_ANSWER, tags=("meta",))
def openapi(ctx):
    from chalicelib.http import openapi as doc
    return doc.document()
