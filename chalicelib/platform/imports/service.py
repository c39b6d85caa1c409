"""Data loading: an environment's events out as JSON Lines, one bounded page at a time
(the paging itself is the event log's, which backups read too)."""
from __future__ import annotations

from chalicelib.store import event_log

PAGE_SIZE = event_log.PAGE_SIZE
MEDIA_TYPE = "application/x-ndjson"


def export_page(instance_id: str, env: str, aggregate_type: str | None, cursor: str | None,
                limit: int | None) -> tuple[str, dict]:
    """(body, headers): the page's lines, their count, and X-Next-Cursor unless last."""
    page = event_log.page(instance_id, env, aggregate_type=aggregate_type, cursor=cursor,
                          limit=limit)
    headers = {"Content-Type": MEDIA_TYPE, "X-Export-Count": str(len(page.lines))}
    if page.next_cursor:
        headers["X-Next-Cursor"] = page.next_cursor
    return page.body, headers
