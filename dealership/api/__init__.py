"""API plumbing shared by every app's api.py, and the API of this app (stores, staff, tokens).

Each app's api.py parses and validates with serializers, fetches through its selectors' `*_for_user`
querysets (so a foreign id is a 404 everywhere) and writes through its services. What they share lives
here: the contract's pagination envelope, the service-error mapping, store-local datetimes, periods,
scoped reference fields and the role rule for writes.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

# --- pagination -----------------------------------------------------------------------------------------

class Pagination(BasePagination):
    """The contract's envelope `{"count", "next", "previous", "results"}` over keyset (cursor) pages.

    Why not page numbers: OFFSET makes page 20,000 of a million rows scan 20,000 pages first, and an
    exact COUNT(*) of a million rows costs more than the page itself. So:
    - rows come newest first by id (`-pk`); `next`/`previous` carry an opaque `cursor` (the last id
      seen), so every page is an index range scan, however deep;
    - `?page=N` still works for shallow pages (up to `max_offset` rows), for clients that count pages;
    - `count` is exact up to `exact_count_limit` rows (a capped count); above that it is the PostgreSQL
      planner's estimate and `count_exact` is false. Clients should follow `next` until it is null.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    cursor_query_param = "cursor"
    page_query_param = "page"
    exact_count_limit = 10_000
    max_offset = 10_000

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({"page_size": [_("Enter a whole number from 1 to 1000.")]}) from None
        if size < 1:
            raise ValidationError({"page_size": [_("Enter a whole number from 1 to 1000.")]})
        return min(size, self.max_page_size)

    def _cursor(self, request) -> tuple[str, int] | None:
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        try:
            direction, _sep, pk = base64.urlsafe_b64decode(raw.encode()).decode().partition(":")
            value = int(pk)
        except (ValueError, binascii.Error, UnicodeError):
            raise ValidationError({"cursor": [_("This cursor is not valid: use the next/previous links.")]}) from None
        if direction not in ("a", "b") or not 0 <= value < 2**63:
            raise ValidationError({"cursor": [_("This cursor is not valid: use the next/previous links.")]})
        return direction, value

    def _page_number(self, request, size: int) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw in (None, ""):
            return 1
        try:
            page = int(raw)
        except ValueError:
            raise ValidationError({"page": [_("Enter a page number.")]}) from None
        if page < 1 or (page - 1) * size > self.max_offset:
            raise ValidationError({"page": [_("Deep pages are not numbered: follow the `next` link.")]})
        return page

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list:
        self.request = request
        ascending = getattr(view, "keyset_ascending", False)
        forward, backward = ("pk", "-pk") if ascending else ("-pk", "pk")
        after, before = ("pk__gt", "pk__lt") if ascending else ("pk__lt", "pk__gt")
        size = self.get_page_size(request)
        cursor = self._cursor(request)
        self.has_previous = False
        if cursor is None:
            page = self._page_number(request, size)
            offset = (page - 1) * size
            rows = list(queryset.order_by(forward)[offset: offset + size + 1])
            self.has_next, rows = len(rows) > size, rows[:size]
            self.has_previous = page > 1
        elif cursor[0] == "a":
            rows = list(queryset.order_by(forward).filter(**{after: cursor[1]})[: size + 1])
            self.has_next, rows = len(rows) > size, rows[:size]
            self.has_previous = True
        else:
            rows = list(queryset.order_by(backward).filter(**{before: cursor[1]})[: size + 1])
            self.has_previous, rows = len(rows) > size, rows[:size]
            rows.reverse()
            self.has_next = True
        self.rows = rows
        self.count, self.count_exact = self._count(queryset)
        return rows

    def _count(self, queryset: QuerySet) -> tuple[int, bool]:
        capped = queryset.order_by()[: self.exact_count_limit + 1].count()
        if capped <= self.exact_count_limit or connection.vendor != "postgresql":
            return (capped, True) if capped <= self.exact_count_limit else (queryset.count(), True)
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cur.fetchone()[0]
        if isinstance(plan, str):  # some drivers hand EXPLAIN's JSON over as text
            plan = json.loads(plan)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        return max(estimate, self.exact_count_limit + 1), False

    def _link(self, direction: str, pk: int) -> str:
        url = self.request.build_absolute_uri()
        url = remove_query_param(url, self.page_query_param)
        token = base64.urlsafe_b64encode(f"{direction}:{pk}".encode()).decode()
        return replace_query_param(url, self.cursor_query_param, token)

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.rows:
            return None
        return self._link("a", _pk(self.rows[-1]))

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.rows:
            return remove_query_param(remove_query_param(self.request.build_absolute_uri(), "cursor"), "page")
        return self._link("b", _pk(self.rows[0]))

    def get_paginated_response(self, data) -> Response:
        return Response(OrderedDict([
            ("count", self.count), ("count_exact", self.count_exact), ("next", self.get_next_link()),
            ("previous", self.get_previous_link()), ("results", data),
        ]))

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {"type": "integer", "description": "Exact up to 10,000; above, an estimate."},
                "count_exact": {"type": "boolean"},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {"name": "page_size", "required": False, "in": "query",
             "description": "Rows per page, up to 1000.", "schema": {"type": "integer", "minimum": 1}},
            {"name": "cursor", "required": False, "in": "query",
             "description": "Opaque position from a next/previous link.", "schema": {"type": "string"}},
            {"name": "page", "required": False, "in": "query",
             "description": "Shallow pages only; deeper, follow `next`.", "schema": {"type": "integer", "minimum": 1}},
        ]


def _pk(row: Any) -> int:
    return row["id"] if isinstance(row, dict) else row.pk


# Imported after Pagination on purpose: rest_framework.generics reads DEFAULT_PAGINATION_CLASS (this
# module's Pagination) while it is imported. This module must never import rest_framework.viewsets or
# generics (the viewsets of stores and staff live in dealership/api/views.py for that reason).
import csv  # noqa: E402
import datetime as dt  # noqa: E402
import io  # noqa: E402
from decimal import Decimal  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402

from django import forms  # noqa: E402
from django.contrib.auth.password_validation import validate_password  # noqa: E402
from django.core.exceptions import ValidationError as DjangoValidationError  # noqa: E402
from django.db import IntegrityError  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_filters import rest_framework as filters  # noqa: E402
from drf_spectacular.authentication import SessionScheme, TokenScheme  # noqa: E402
from drf_spectacular.types import OpenApiTypes  # noqa: E402
from drf_spectacular.utils import extend_schema_field  # noqa: E402
from rest_framework import mixins, permissions, renderers, serializers, status  # noqa: E402
from rest_framework.views import exception_handler  # noqa: E402

from dealership.models import Dealership, Role, User  # noqa: E402
from dealership.selectors import dealerships_for_user  # noqa: E402
from dealership.services import dealership_create, dealership_update, staff_create, staff_update  # noqa: E402

# Years outside this range are typos or fuzz; refusing them keeps time-zone and month arithmetic safe.
MIN_YEAR, MAX_YEAR = 1900, 2200


# --- errors ---------------------------------------------------------------------------------------------

def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Services raise Django's ValidationError({field: msg}); clients get 400 {"field": ["msg"]}.

    The services run in transaction.atomic, so by the time we are here nothing of the request is written.
    An IntegrityError is a rule the services did not check first (a race on a unique key): still a 400.
    """
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=serializers.as_serializer_error(exc))
    elif isinstance(exc, IntegrityError):
        exc = ValidationError({"non_field_errors": [_("This conflicts with a record that already exists.")]})
    return exception_handler(exc, context)


# --- fields ---------------------------------------------------------------------------------------------

def _check_year(value: dt.date, field: serializers.Field) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        field.fail("year_range")


class StoreDateTimeField(serializers.DateTimeField):
    """ISO 8601 with offset; a naive value is read in the store's own time zone (see StoreSerializer)."""

    default_error_messages = {"year_range": _("Enter a date between the years 1900 and 2200.")}

    def enforce_timezone(self, value: dt.datetime) -> dt.datetime:
        # Keep a naive value naive: which zone it means is only known once the store is known.
        return value if value.tzinfo is None else super().enforce_timezone(value)

    def to_internal_value(self, value: Any) -> dt.datetime:
        parsed = super().to_internal_value(value)
        _check_year(parsed, self)
        return parsed


class BoundedDateField(serializers.DateField):
    default_error_messages = {"year_range": _("Enter a date between the years 1900 and 2200.")}

    def to_internal_value(self, value: Any) -> dt.date:
        parsed = super().to_internal_value(value)
        _check_year(parsed, self)
        return parsed


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "example": "2025-03"})
class PeriodField(serializers.Field):
    """A month as "YYYY-MM"; stored as the first day of the month."""

    default_error_messages = {
        "invalid": _("Enter a month as YYYY-MM (for example 2025-03)."),
        "year_range": _("Enter a date between the years 1900 and 2200."),
    }

    def to_internal_value(self, data: Any) -> dt.date:
        return parse_period(data, fail=self.fail)

    def to_representation(self, value: dt.date) -> str:
        return value.strftime("%Y-%m")


def parse_period(data: Any, fail: Callable[[str], Any] | None = None) -> dt.date:
    def _fail(key: str):
        if fail is not None:
            fail(key)
        raise ValidationError({"period": [PeriodField.default_error_messages[key]]})

    if not isinstance(data, str) or len(data) != 7 or data[4] != "-":
        _fail("invalid")
    try:
        value = dt.date(int(data[:4]), int(data[5:]), 1)
    except ValueError:
        _fail("invalid")
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        _fail("year_range")
    return value


def money_field(**kwargs) -> serializers.DecimalField:
    """Money as a decimal string with two places ("12345.00"); never negative unless said so."""
    kwargs.setdefault("min_value", Decimal("0"))
    return serializers.DecimalField(max_digits=14, decimal_places=2, **kwargs)


@extend_schema_field(OpenApiTypes.INT)
class ScopedRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id, resolved only among the objects the user may see.

    A foreign id gets the same "does not exist" as an id that was never used: existence is not leaked.
    """

    def __init__(self, scope: Callable[[User], QuerySet], **kwargs):
        self.scope = scope
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet:
        return self.scope(self.context["request"].user)


def own_store_default(serializer_field) -> Dealership | None:
    user = serializer_field.context["request"].user
    return user.dealership if user.dealership_id else None


own_store_default.requires_context = True


class StoreSerializer(serializers.Serializer):
    """Base of the record serializers: resolves the store, then reads naive datetimes in its zone."""

    def store_of(self, attrs: dict) -> Dealership | None:
        if attrs.get("dealership") is not None:
            return attrs["dealership"]
        for ref in ("customer", "campaign", "order", "service_visit"):
            if attrs.get(ref) is not None:
                return attrs[ref].dealership
        return getattr(self.instance, "dealership", None)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        store = self.store_of(attrs)
        zone = store.tzinfo if store is not None else dt.timezone(dt.timedelta(hours=8))
        for name, value in attrs.items():
            if isinstance(value, dt.datetime) and value.tzinfo is None:
                attrs[name] = value.replace(tzinfo=zone)
        return attrs


# The serializer options of every `external_id` (optional, unique per store and resource).
EXTERNAL_ID = {"max_length": 64, "allow_null": True, "required": False}


class UpsertSerializer(StoreSerializer, serializers.ModelSerializer):
    """A record serializer whose create may update the row an `external_id` already names.

    `created` tells the view whether to answer 201 or 200. DRF's generated unique-together validator
    is switched off (Meta.validators = []): posting a known external_id again is an update, not an error.
    """

    created = True

    def claim_external_id(self, model, *, dealership, external_id: str | None, scope) -> None:
        """An external_id of the store that this user may not see is refused, never silently updated."""
        if not external_id:
            return
        existing = model.objects.filter(dealership=dealership, external_id=external_id).values_list("pk", flat=True)
        pk = next(iter(existing), None)
        self.created = pk is None
        if pk is not None and not scope.filter(pk=pk).exists():
            raise serializers.ValidationError({"external_id": [_("This external id is already used in your store.")]})


class UpsertCreateMixin(mixins.CreateModelMixin):
    """POST answers 201 for a new record, 200 when its external_id named one that it updated."""

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        code = status.HTTP_201_CREATED if getattr(serializer, "created", True) else status.HTTP_200_OK
        return Response(serializer.data, status=code)


class StoreTokenScheme(TokenScheme):
    """The schema's name for our token authentication (a subclass that records the actor for the audit)."""

    target_class = "dealership.security.TokenAuthentication"


class StoreSessionScheme(SessionScheme):
    target_class = "dealership.security.SessionAuthentication"


# --- views ----------------------------------------------------------------------------------------------

class WriteRoles(permissions.BasePermission):
    """Everyone signed in reads (within scope); writes need one of the view's `write_roles`.

    `write_roles = None` means any role may write; superusers always may. Object scoping is not done
    here: the views fetch through `*_for_user` querysets, so a foreign object is already a 404.
    """

    message = _("Your role may not change these records.")

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS or request.user.is_superuser:
            return True
        roles = getattr(view, "write_roles", None)
        return roles is None or request.user.role in roles


MANAGERS = frozenset({Role.MANAGER, Role.GROUP_MANAGER})
SUPERUSER_ONLY: frozenset[str] = frozenset()


class ScopedViewSetMixin:
    """The common wiring of every API viewset.

    `scope(user)` is the app's permission-scoped selector (`customers_for_user`, ...): lists, detail,
    updates and deletes all go through it, so an object outside it is a 404 for every method.
    """

    scope: Callable[[User], QuerySet]
    related: Iterable[str] = ()
    permission_classes = [WriteRoles]
    lookup_value_regex = r"\d{1,18}"  # not a number, or beyond bigint: no such object (404), not a 500
    write_roles: frozenset[str] | None = None

    def get_exception_handler(self):
        return api_exception_handler

    def get_queryset(self) -> QuerySet:
        qs = type(self).scope(self.request.user)
        if self.related:
            qs = qs.select_related(*self.related)
        return qs


class CSVRenderer(renderers.BaseRenderer):
    """`?format=csv`: the view hands over a list of flat dicts; columns in the order of the first row."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, dict) and "results" in data:
            data = data["results"]
        if isinstance(data, dict):  # an error: one row per field
            data = [{"field": k, "error": " ".join(map(str, v if isinstance(v, list) else [v]))}
                    for k, v in data.items()]
        out = io.StringIO()
        rows = list(data or [])
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        # A BOM so that Excel (the tool of most store managers) opens Chinese text as UTF-8.
        return ("\ufeff" + out.getvalue()).encode("utf-8")


class IdFilter(filters.NumberFilter):
    """An id in a query string; a foreign id simply matches nothing in the user's scope."""

    field_class = forms.IntegerField


class PeriodFilter(filters.CharFilter):
    """`?period=YYYY-MM` on a first-of-month DateField; a malformed month is a 400 that says so."""

    def filter(self, qs: QuerySet, value: str) -> QuerySet:
        if value in (None, ""):
            return qs
        return qs.filter(**{self.field_name: parse_period(value)})


class DayBoundFilter(filters.DateFilter):
    """`?from=` / `?to=` as days on a datetime column, turned into an instant range (the day starts at the
    local midnight, `to` includes its whole day) so that the database can use an index on the column."""

    def __init__(self, *args: Any, upper: bool = False, **kwargs: Any):
        self.upper = upper
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: dt.date | None) -> QuerySet:
        if value is None:
            return qs
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            message = _("Enter a date between the years 1900 and 2200.")
            raise ValidationError({"to" if self.upper else "from": [message]})
        if self.upper:
            value += dt.timedelta(days=1)
        bound = timezone.make_aware(dt.datetime.combine(value, dt.time.min))
        return qs.filter(**{f"{self.field_name}__{'lt' if self.upper else 'gte'}": bound})


def date_range_filters(field: str, *, dates_only: bool = False) -> dict[str, filters.Filter]:
    """`?from=&to=` on one date or datetime field (inclusive; `to` as a date covers the whole day)."""
    if dates_only:
        return {"from": filters.DateFilter(field_name=field, lookup_expr="gte", label="from (YYYY-MM-DD)"),
                "to": filters.DateFilter(field_name=field, lookup_expr="lte", label="to (YYYY-MM-DD)")}
    return {"from": DayBoundFilter(field_name=field, label="from (YYYY-MM-DD)"),
            "to": DayBoundFilter(field_name=field, upper=True, label="to (YYYY-MM-DD, inclusive)")}


def filterset(model, *, fields: dict[str, filters.Filter]) -> type[filters.FilterSet]:
    """A FilterSet class from a dict (so that filters may be named `from`, a Python keyword)."""
    meta = type("Meta", (), {"model": model, "fields": []})
    return type(f"{model.__name__}Filter", (filters.FilterSet,), {"Meta": meta, **fields})


class DealershipSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dealership
        fields = ["id", "code", "name", "city", "brand", "timezone", "currency", "group"]
        read_only_fields = ["group"]

    def create(self, validated_data: dict) -> Dealership:
        return dealership_create(**validated_data)

    def update(self, instance: Dealership, validated_data: dict) -> Dealership:
        return dealership_update(dealership=instance, **validated_data)


class StaffSerializer(serializers.ModelSerializer):
    dealership = ScopedRelatedField(dealerships_for_user, allow_null=True, required=False,
                                    default=own_store_default)
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"},
                                     min_length=1, max_length=128, trim_whitespace=False)
    role = serializers.ChoiceField(choices=Role.choices)

    class Meta:
        model = User
        fields = ["id", "username", "name", "role", "dealership", "password", "is_active", "email"]
        read_only_fields = ["is_active"]

    def validate_role(self, role: str) -> str:
        user = self.context["request"].user
        if role == Role.GROUP_MANAGER and not (user.is_superuser or user.role == Role.GROUP_MANAGER):
            raise serializers.ValidationError(_("Only a group manager may appoint a group manager."))
        return role

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if "password" in attrs:
            probe = self.instance or User(username=attrs.get("username", ""), name=attrs.get("name", ""),
                                          email=attrs.get("email", ""))
            try:
                validate_password(attrs["password"], user=probe)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": list(exc.messages)}) from None
        elif self.instance is None:
            raise serializers.ValidationError({"password": [_("A new member of staff needs a password.")]})
        return attrs

    def create(self, validated_data: dict) -> User:
        return staff_create(**validated_data)

    def update(self, instance: User, validated_data: dict) -> User:
        return staff_update(user=instance, **validated_data)


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
