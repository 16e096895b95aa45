"""Per-request language and time zone from the staff member and the store."""
from __future__ import annotations

from collections.abc import Callable

from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _


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


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's, except that a session which cannot be saved because the database is down gives a 503,
    not Django's 400 "session deleted before the request completed": the session is saved after every
    request (the idle timeout), so a request that began just before the database went away ended as a
    Bad Request, which is neither true nor something to retry."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except SessionInterrupted as error:
            if not _database_down(error):
                raise
            answer = HttpResponse(_("The database is not reachable at the moment. Please try again shortly."),
                                  status=503, content_type="text/plain; charset=utf-8")
            answer["Retry-After"] = "5"
            return answer


def _database_down(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, (OperationalError, InterfaceError)):
            return True
        error = error.__cause__ or error.__context__
    return False
