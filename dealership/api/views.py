"""The API of the dealership app: stores, staff and tokens (/api/v1/dealerships/, /staff/, /auth/token/)."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.exceptions import ValidationError

from dealership.api import (MANAGERS, SUPERUSER_ONLY, DealershipSerializer, IdFilter, ScopedViewSetMixin,
                            StaffSerializer, TokenRequestSerializer, TokenSerializer, api_exception_handler,
                            filterset, staff_update)
from dealership.models import Dealership, Role, User
from dealership.selectors import dealerships_for_user, staff_for_user


class DealershipViewSet(ScopedViewSetMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin,
                        viewsets.ReadOnlyModelViewSet):
    """4S stores: everyone reads the stores he works in; only superusers create or edit them."""

    scope = staticmethod(dealerships_for_user)
    serializer_class = DealershipSerializer
    write_roles = SUPERUSER_ONLY
    filterset_class = filterset(Dealership, fields={
        "code": filters.CharFilter(), "city": filters.CharFilter(), "brand": filters.CharFilter()})


class StaffViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """Staff of the user's stores. Managers write; DELETE deactivates (their records keep their name)."""

    scope = staticmethod(staff_for_user)
    serializer_class = StaffSerializer
    write_roles = MANAGERS
    filterset_class = filterset(User, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "role": filters.ChoiceFilter(choices=Role.choices),
        "username": filters.CharFilter(),
    })

    def perform_destroy(self, instance: User) -> None:
        if instance.pk == self.request.user.pk:
            raise ValidationError({"id": [_("You cannot deactivate yourself.")]})
        staff_update(user=instance, is_active=False)


def token_view():
    """POST /api/v1/auth/token/ {"username", "password"} → {"token"} (DRF's view, documented)."""
    from rest_framework.authtoken.views import ObtainAuthToken

    class ObtainToken(ObtainAuthToken):
        def get_exception_handler(self):
            return api_exception_handler

        @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer}, auth=[])
        def post(self, request, *args, **kwargs):
            # The same failure throttle as the sign-in page: a token is a password's worth of access.
            from dealership.security import client_address, login_failed, login_locked, login_succeeded

            data = request.data if isinstance(request.data, dict) else {}
            username, address = str(data.get("username", ""))[:150], client_address(request)
            if login_locked(username, address):
                raise ValidationError({"non_field_errors": [_("Too many failed attempts: try again later.")]})
            try:
                response = super().post(request, *args, **kwargs)
            except ValidationError:
                login_failed(username, address)
                raise
            login_succeeded(username)
            return response

    return ObtainToken.as_view()

