"""One page of an environment's records, newest first: the listings of checkpoints,
root checkpoints, scheduled events, sagas and tombstones. Their ids sort by creation time
(`<prefix>_<13-digit ms><hex>`), so a descending Query of the environment's partition is
newest first, and the last id of a page is the cursor of the next."""
from __future__ import annotations

import re

from chalicelib.core.errors import invalid


def newest_first(model, scope: str, conditions, limit: int, cursor: str | None,
                 id_re: re.Pattern, **query) -> tuple[list, str | None]:
    """(page, next_cursor): one consistent Query from `cursor` (an id this listing gave
    out; 400 otherwise), the given filter conditions (None: no filter) all holding, at
    most `limit` items (PynamoDB pages on until it has them or the partition ends)."""
    if cursor is not None and not id_re.match(cursor):
        raise invalid("cursor", "is not a cursor this listing gave out")
    condition = None
    for term in conditions:
        if term is not None:
            condition = term if condition is None else condition & term
    rows = list(model.query(scope, model.id < cursor if cursor else None,
                            filter_condition=condition, scan_index_forward=False,
                            consistent_read=True, limit=limit + 1, **query))
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)
