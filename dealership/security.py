"""Who may see what personal data, sign-in throttling, and the actor of each request for the audit trail.

PIPL: a customer's phone number is personal information. Roles that do not call customers see it masked
(139****1234), and only managers may export it unmasked; every export is written to the audit trail.
"""
from __future__ import annotations

import contextvars
import logging
import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication

from dealership.models import Role, User

log = logging.getLogger(__name__)

# The user on whose behalf the current request or task writes; read by dealership.audit.
current_actor: contextvars.ContextVar[User | None] = contextvars.ContextVar("current_actor", default=None)
current_address: contextvars.ContextVar[str] = contextvars.ContextVar("current_address", default="")

PHONE_ROLES = {Role.CONSULTANT, Role.ADVISOR, Role.MANAGER, Role.MARKETING}
EXPORT_PERSONAL_ROLES = {Role.MANAGER}


def can_see_phones(user: User) -> bool:
    """Consultants, advisors and marketing call customers; managers answer for them. Group managers compare
    stores and need no phone numbers."""
    return user.is_authenticated and (user.is_superuser or user.role in PHONE_ROLES)


def can_export_personal_data(user: User) -> bool:
    return user.is_authenticated and (user.is_superuser or user.role in EXPORT_PERSONAL_ROLES)


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if phone and len(phone) >= 8 else phone


# A mainland mobile number inside free text, alone or with +86 and separators (normalize_phone's inputs).
_MOBILE_IN_TEXT = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?\d{4}[- ]?(\d{4})(?!\d)")


def mask_phones_in(text: str) -> str:
    """Mask the mobile numbers a free text may carry: notes, the search of an exported list's URL."""
    return _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def phone_for(user: User, phone: str, *, export: bool = False) -> str:
    allowed = can_export_personal_data(user) if export else can_see_phones(user)
    return phone if allowed else mask_phone(phone)


def client_address(request: HttpRequest) -> str:
    # Behind the proxy of docker-compose the client is the first X-Forwarded-For hop.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR", "")


# --- sign-in throttling: failures per user name and per address, in the cache -------------------------
LOGIN_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20


def _failure_keys(username: str, address: str) -> list[tuple[str, int]]:
    return [(f"login-fail:user:{username.lower()}", MAX_FAILURES_PER_USER),
            (f"login-fail:addr:{address}", MAX_FAILURES_PER_ADDRESS)]


def login_locked(username: str, address: str) -> bool:
    try:
        return any((cache.get(key) or 0) >= limit for key, limit in _failure_keys(username, address))
    except Exception:  # a dead cache must not lock everyone out (nor let the page crash)
        log.warning("login throttle: cache unavailable", exc_info=True)
        return False


def login_failed(username: str, address: str) -> None:
    try:
        for key, _limit in _failure_keys(username, address):
            if not cache.add(key, 1, timeout=LOGIN_WINDOW_SECONDS):
                cache.incr(key)
    except Exception:
        log.warning("login throttle: cache unavailable", exc_info=True)


def login_succeeded(username: str) -> None:
    try:
        cache.delete(f"login-fail:user:{username.lower()}")
    except Exception:
        log.warning("login throttle: cache unavailable", exc_info=True)


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _("Too many failed sign-ins. Wait 15 minutes and try again, or ask your manager."),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request else ""
        if login_locked(username, address):
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failed(username, address)
            raise
        login_succeeded(username)
        return cleaned


class ThrottledLoginView(LoginView):
    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True


# --- the actor of API requests (DRF authenticates in the view, after the middleware) ------------------
class _ActorMixin:
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            current_actor.set(result[0])
        return result


class TokenAuthentication(_ActorMixin, authentication.TokenAuthentication):
    pass


class SessionAuthentication(_ActorMixin, authentication.SessionAuthentication):
    pass
