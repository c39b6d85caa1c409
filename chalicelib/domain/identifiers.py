"""The identifiers the platform accepts, for aggregate keys, `metadata.actor.id` and
`metadata.target.id` alike (its "Identifiers" reference):

- a UUID of version 4 or 5 (any case; RFC 4122 variant): 550e8400-e29b-41d4-a716-446655440000
- a humane code: 9 characters of Crockford's base32 (0-9 and A-Z without I, L, O, U; any
  case): ABC123XYZ
- a tagged UUID: such a UUID, ':' and a short tag of letters, digits, '_' or '-' (1 to 32):
  550e8400-e29b-41d4-a716-446655440000:2026
- a singleton: `global` for any aggregate type, or a name the spec declares in
  `"singletons": [...]`.
Pure."""
from __future__ import annotations

import re

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[45][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
UUID_RE = re.compile(_UUID)
HUMANE_RE = re.compile(r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{9}")
TAGGED_RE = re.compile(_UUID + r":[A-Za-z0-9_-]{1,32}")
SINGLETON_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
IMPLICIT_SINGLETON = "global"

# The fixed forms as one pattern, for the document; the singletons a spec declares are ids
# too, beyond what a pattern can say.
PATTERN = (rf"^(?:{_UUID}(?::[A-Za-z0-9_-]{{1,32}})?|[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{{9}}"
           rf"|{IMPLICIT_SINGLETON})$")

FORMS = ("a UUID (version 4 or 5), a humane code (9 characters of Crockford base32), "
         "a tagged UUID (<uuid>:<tag>) or a singleton ('global' or one the spec declares "
         "in \"singletons\")")


def singletons(spec: dict | None) -> frozenset:
    declared = (spec or {}).get("singletons") or ()
    return frozenset([IMPLICIT_SINGLETON, *[s for s in declared if isinstance(s, str)]])


def is_singleton(text: str, spec: dict | None) -> bool:
    return text in singletons(spec)


def problem(text, spec: dict | None) -> str | None:
    """Why `text` is not an identifier, or None when it is one."""
    if not isinstance(text, str):
        return f"must be a string: {FORMS}"
    if (UUID_RE.fullmatch(text) or HUMANE_RE.fullmatch(text) or TAGGED_RE.fullmatch(text)
            or text in singletons(spec)):
        return None
    return f"{text[:80]!r} is not an identifier: it must be {FORMS}"
