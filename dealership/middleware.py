"""Per-request language and time zone from the staff member and the store."""
from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation


class StaffPreferencesMiddleware:
    """A user's own language, else the store's (Chinese for a store in China); the store's time zone.

    An explicit choice in the session (the language switcher) or the URL wins over both.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            store = user.dealership
            chosen = request.COOKIES.get("django_language")
            language = chosen or user.language or (store.language if store else "")
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
            if store is not None:
                timezone.activate(store.tzinfo)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class AuditContextMiddleware:
    """Makes the request (and so its user and address) known to the audit trail for the whole request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from dealership.audit import current_request
        from dealership.security import client_address, current_actor, current_address

        tokens = (current_request.set(request), current_address.set(client_address(request)),
                  current_actor.set(None))
        try:
            return self.get_response(request)
        finally:
            current_actor.reset(tokens[2])
            current_address.reset(tokens[1])
            current_request.reset(tokens[0])


class ContentSecurityPolicyMiddleware:
    """Only the application's own origin may serve scripts, styles, images, fonts and connections.

    Inline scripts need the per-request nonce: `<script nonce="{{ request.csp_nonce }}">`. Styles allow
    'unsafe-inline' because plotly.js sets style attributes on the elements it draws.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import secrets

        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", "; ".join([
            "default-src 'self'",
            f"script-src 'self' 'nonce-{request.csp_nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]))
        return response
