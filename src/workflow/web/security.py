"""Security headers on every response: a strict Content-Security-Policy, no sniffing, framing or referrer leaks,
HSTS where cookies are HTTPS-only, and nothing signed-in stored in any cache.

The policy allows no inline script or style anywhere. The one exception is the API documentation page, whose
Swagger UI is started by an inline script: that page's policy names exactly that script by its SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATH = "/docs"
STATIC_PREFIX = "/static/"
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000; includeSubDomains"
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def content_security_policy(*, script_hashes: tuple[str, ...] = ()) -> str:
    """The policy, allowing in addition the inline scripts whose ``'sha256-...'`` sources are given."""
    directives = dict(POLICY)
    if script_hashes:
        directives["script-src"] = " ".join((POLICY["script-src"], *script_hashes))
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def inline_script_hashes(html: str) -> tuple[str, ...]:
    """The CSP sources (``'sha256-…'``) of the inline scripts of a page, in order."""
    return tuple(f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
                 for body in _INLINE_SCRIPT.findall(html))


class SecurityHeaders:
    """ASGI middleware setting the headers on every HTTP response (streamed bodies pass through untouched).

    ``Cache-Control: no-store`` is set unless the route chose its own caching (a calendar feed does); files
    under /static, public by design, keep the caching the static-file server gives them.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool, docs_page: str = "") -> None:
        self.app = app
        fixed = dict(HEADERS, **({"Strict-Transport-Security": HSTS} if hsts else {}))
        self._fixed = list(fixed.items())
        self._policy = content_security_policy()
        self._docs_policy = content_security_policy(script_hashes=inline_script_hashes(docs_page))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = self._docs_policy if path == DOCS_PATH else self._policy
        static = path.startswith(STATIC_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self._fixed:
                    headers[name] = value
                headers["Content-Security-Policy"] = policy
                if not static and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
