"""The API's own description."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.http.routing import route

bp = Blueprint(__name__)


@route(bp, "/openapi.json", "GET", summary="This API as an OpenAPI 3.1 document", auth="public",
       tags=("meta",))
def openapi(ctx):
    from chalicelib.http import openapi as doc
    return doc.document()
