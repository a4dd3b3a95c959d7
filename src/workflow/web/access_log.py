"""Secrets out of the access log: a logging filter for uvicorn's access lines that blanks the calendar-feed token
in ``/calendar/<token>.ics`` and the values of query parameters that carry secrets (reset and sign-in tokens, the
provider's authorization code and state)."""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_CALENDAR = re.compile(r"(/calendar/)[^/?#\s]+(\.ics)")
_SECRET_QUERY = re.compile(r"([?&](?:token|reset|reset_token|code|state|id_token_hint|access_token|session_state)=)"
                           r"[^&#\s]*", re.IGNORECASE)


def redact(path: str) -> str:
    """``path`` (with its query) with every secret replaced by ``[redacted]``."""
    return _SECRET_QUERY.sub(rf"\g<1>{REDACTED}", _CALENDAR.sub(rf"\g<1>{REDACTED}\g<2>", path))


class RedactSecrets(logging.Filter):
    """Rewrites the path of uvicorn's access records (``client, method, path, version, status``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
