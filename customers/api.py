"""/api/v1/customers/: the customer records, their stage moves, losses and history (spec/api.md)."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.selectors import campaigns_for_user
from customers.models import Customer, Source, Stage
from customers.selectors import customer_history, customers_for_user
from customers.services import (customer_create, customer_mark_lost, customer_move_stage, customer_reactivate,
                                customer_update, normalize_phone)
from dealership.api import (EXTERNAL_ID, IdFilter, ScopedRelatedField, ScopedViewSetMixin, StoreDateTimeField,
                            StoreSerializer, UpsertCreateMixin, UpsertSerializer, date_range_filters, filterset,
                            own_store_default)
from dealership.security import phone_for
from dealership.selectors import dealerships_for_user, staff_for_user

# Set once, at creation: afterwards the stage moves through /stage/ and events, the store never changes.
CREATE_ONLY = ("dealership", "stage", "created_at")


class CustomerSerializer(UpsertSerializer):
    dealership = ScopedRelatedField(dealerships_for_user, default=own_store_default)
    campaign = ScopedRelatedField(campaigns_for_user, allow_null=True, required=False)
    consultant = ScopedRelatedField(staff_for_user, allow_null=True, required=False)
    referred_by = ScopedRelatedField(customers_for_user, allow_null=True, required=False)
    stage = serializers.ChoiceField(choices=Stage.choices, default=Stage.MARKET,
                                    help_text="On create only: later through /stage/ and events.")
    source = serializers.ChoiceField(choices=Source.choices, default=Source.OTHER)
    created_at = StoreDateTimeField(required=False, help_text="Writable on create (history imports).")
    phone = serializers.CharField(max_length=30, allow_blank=True, required=False)

    class Meta:
        model = Customer
        fields = ["id", "external_id", "dealership", "name", "phone", "source", "campaign", "consultant",
                  "referred_by", "stage", "intent", "is_lost", "lost_reason", "lost_at", "next_follow_up_on",
                  "notes", "created_at", "updated_at", "last_contact_at"]
        read_only_fields = ["is_lost", "lost_reason", "lost_at", "updated_at", "last_contact_at"]
        validators: list = []
        extra_kwargs = {"external_id": EXTERNAL_ID}

    def to_representation(self, instance: Customer) -> dict:
        data = super().to_representation(instance)
        # PIPL: roles that do not call customers see the number masked (dealership.security).
        data["phone"] = phone_for(self.context["request"].user, data["phone"])
        return data

    def validate_phone(self, value: str) -> str:
        from django.core.exceptions import ValidationError as DjangoValidationError

        try:
            return normalize_phone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["phone"]) from None

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and attrs.get("dealership") is None:
            raise serializers.ValidationError({"dealership": [_("Say which store this record belongs to.")]})
        if self.instance is not None:
            for name in CREATE_ONLY:
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError({name: [
                        _("This cannot be changed here (the stage moves through /stage/ and events).")]})
                attrs.pop(name, None)
        return super().validate(attrs)

    def create(self, validated_data: dict) -> Customer:
        user = self.context["request"].user
        self.claim_external_id(Customer, dealership=validated_data["dealership"],
                               external_id=validated_data.get("external_id"), scope=customers_for_user(user))
        validated_data.pop("next_follow_up_on", None)
        return customer_create(by=user, **validated_data)

    def update(self, instance: Customer, validated_data: dict) -> Customer:
        return customer_update(customer=instance, by=self.context["request"].user, **validated_data)


class StageMoveSerializer(StoreSerializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    at = StoreDateTimeField(required=False, help_text="Default: now. Naive: the store's time zone.")


class LostSerializer(StoreSerializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)
    reactivate = serializers.BooleanField(required=False, help_text="true: undo the loss.")
    at = StoreDateTimeField(required=False)

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if not attrs.get("reactivate") and not (attrs.get("reason") or "").strip():
            raise serializers.ValidationError({"reason": [_("Say why the deal was lost.")]})
        return attrs


class HistorySerializer(serializers.Serializer):
    # `from` is a Python keyword: the fields are declared by name below.
    to = serializers.CharField()
    at = serializers.DateTimeField()
    by = serializers.IntegerField(allow_null=True)
    by_name = serializers.CharField(allow_null=True)
    kind = serializers.CharField()
    reason = serializers.CharField()


HistorySerializer._declared_fields = {"from": serializers.CharField(), **HistorySerializer._declared_fields}


class CustomerViewSet(ScopedViewSetMixin, UpsertCreateMixin, mixins.RetrieveModelMixin,
                      mixins.UpdateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Customers of the user's stores; a sales consultant sees only his or her own."""

    scope = staticmethod(customers_for_user)
    serializer_class = CustomerSerializer
    filterset_class = filterset(Customer, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "stage": filters.ChoiceFilter(choices=Stage.choices),
        "consultant": IdFilter(field_name="consultant_id"),
        "campaign": IdFilter(field_name="campaign_id"),
        "source": filters.ChoiceFilter(choices=Source.choices),
        "is_lost": filters.BooleanFilter(),
        "external_id": filters.CharFilter(),
        "phone": filters.CharFilter(method=lambda qs, name, value: _filter_phone(qs, value)),
        **date_range_filters("created_at"),
    })

    @extend_schema(request=StageMoveSerializer, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def stage(self, request: Request, pk: str | None = None) -> Response:
        customer = self.get_object()
        data = self._parse(StageMoveSerializer, customer)
        customer_move_stage(customer=customer, stage=data["stage"], at=data.get("at"), by=request.user)
        return self._answer(customer)

    @extend_schema(request=LostSerializer, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def lost(self, request: Request, pk: str | None = None) -> Response:
        customer = self.get_object()
        data = self._parse(LostSerializer, customer)
        if data.get("reactivate"):
            customer_reactivate(customer=customer, at=data.get("at"), by=request.user)
        else:
            customer_mark_lost(customer=customer, reason=data["reason"], at=data.get("at"), by=request.user)
        return self._answer(customer)

    @extend_schema(responses={200: HistorySerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def history(self, request: Request, pk: str | None = None) -> Response:
        customer = self.get_object()
        return Response([
            {"from": c.from_stage or None, "to": c.to_stage, "at": serializers.DateTimeField().to_representation(c.at),
             "by": c.by_id, "by_name": c.by.display_name if c.by else None, "kind": c.kind, "reason": c.reason}
            for c in customer_history(customer)
        ])

    def _parse(self, serializer_class, customer: Customer) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.instance = customer  # gives the store (and its time zone) to naive datetimes
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _answer(self, customer: Customer) -> Response:
        customer.refresh_from_db()
        return Response(self.get_serializer(customer).data)


def _filter_phone(queryset, value: str):
    """?phone= in any spelling ('+86 139-1234-5678'): compared in the stored, normalised form."""
    from django.core.exceptions import ValidationError as DjangoValidationError

    try:
        return queryset.filter(phone=normalize_phone(value))
    except DjangoValidationError:
        return queryset.none()
