"""/api/v1/visits/, /test-drives/, /orders/: the sales floor's records (spec/api.md).

Creates go through sales.services, so an API test drive moves the customer's stage exactly as the page
does. Records are corrected by posting them again with their external_id (DMS style); an order's
delivery is recorded with PATCH {"delivered_at"}.
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from campaigns.selectors import campaigns_for_user
from customers.selectors import customers_for_user
from dealership.api import (EXTERNAL_ID, IdFilter, ScopedRelatedField, ScopedViewSetMixin, StoreDateTimeField,
                            StoreSerializer, UpsertCreateMixin, UpsertSerializer, date_range_filters, filterset,
                            money_field, own_store_default)
from dealership.selectors import dealerships_for_user, staff_for_user
from sales.models import Order, TestDrive, Visit, VisitKind
from sales.selectors import orders_for_user, test_drives_for_user, visits_for_user
from sales.services import order_create, order_deliver, test_drive_create, visit_create



class VisitSerializer(UpsertSerializer):
    dealership = ScopedRelatedField(dealerships_for_user, default=own_store_default)
    customer = ScopedRelatedField(customers_for_user, allow_null=True, required=False,
                                  help_text="Null: an anonymous visitor.")
    campaign = ScopedRelatedField(campaigns_for_user, allow_null=True, required=False)
    consultant = ScopedRelatedField(staff_for_user, allow_null=True, required=False)
    kind = serializers.ChoiceField(choices=VisitKind.choices)
    occurred_at = StoreDateTimeField()

    class Meta:
        model = Visit
        fields = ["id", "external_id", "dealership", "customer", "kind", "occurred_at", "campaign", "consultant",
                  "invited", "notes"]
        validators: list = []
        extra_kwargs = {"external_id": EXTERNAL_ID}

    def validate(self, attrs: dict) -> dict:
        if attrs.get("dealership") is None:
            raise serializers.ValidationError({"dealership": [_("Say which store this record belongs to.")]})
        return super().validate(attrs)

    def create(self, validated_data: dict) -> Visit:
        user = self.context["request"].user
        self.claim_external_id(Visit, dealership=validated_data["dealership"],
                               external_id=validated_data.get("external_id"), scope=visits_for_user(user))
        return visit_create(by=user, **validated_data)


class TestDriveSerializer(UpsertSerializer):
    __test__ = False  # a domain name starting with "Test": not a pytest class

    dealership = serializers.PrimaryKeyRelatedField(read_only=True)
    customer = ScopedRelatedField(customers_for_user)
    consultant = ScopedRelatedField(staff_for_user, allow_null=True, required=False)
    occurred_at = StoreDateTimeField()

    class Meta:
        model = TestDrive
        fields = ["id", "external_id", "dealership", "customer", "consultant", "occurred_at", "model"]
        validators: list = []
        extra_kwargs = {"external_id": EXTERNAL_ID}

    def create(self, validated_data: dict) -> TestDrive:
        user = self.context["request"].user
        self.claim_external_id(TestDrive, dealership=validated_data["customer"].dealership,
                               external_id=validated_data.get("external_id"), scope=test_drives_for_user(user))
        return test_drive_create(by=user, **validated_data)


class OrderSerializer(UpsertSerializer):
    dealership = serializers.PrimaryKeyRelatedField(read_only=True)
    customer = ScopedRelatedField(customers_for_user)
    consultant = ScopedRelatedField(staff_for_user, allow_null=True, required=False)
    campaign = ScopedRelatedField(campaigns_for_user, allow_null=True, required=False)
    ordered_at = StoreDateTimeField()
    delivered_at = StoreDateTimeField(allow_null=True, required=False)
    price = money_field(required=False)
    gross_profit = money_field(required=False, min_value=None,
                               help_text="Front-end margin; may be negative before the OEM rebate.")
    oem_rebate = money_field(required=False)

    class Meta:
        model = Order
        fields = ["id", "external_id", "dealership", "customer", "consultant", "model", "ordered_at",
                  "delivered_at", "price", "gross_profit", "oem_rebate", "campaign"]
        validators: list = []
        extra_kwargs = {"external_id": EXTERNAL_ID}

    def create(self, validated_data: dict) -> Order:
        user = self.context["request"].user
        self.claim_external_id(Order, dealership=validated_data["customer"].dealership,
                               external_id=validated_data.get("external_id"), scope=orders_for_user(user))
        return order_create(by=user, **validated_data)


class OrderDeliverySerializer(StoreSerializer):
    """PATCH /orders/{id}/: only the delivery (交车) changes after the order is placed."""

    delivered_at = StoreDateTimeField()

    def update(self, instance: Order, validated_data: dict) -> Order:
        return order_deliver(order=instance, delivered_at=validated_data["delivered_at"],
                             by=self.context["request"].user)


class VisitViewSet(ScopedViewSetMixin, UpsertCreateMixin, viewsets.ReadOnlyModelViewSet):
    """Traffic: showroom, off-site, phone and online. A consultant sees his customers' and his own walk-ins."""

    scope = staticmethod(visits_for_user)
    serializer_class = VisitSerializer
    filterset_class = filterset(Visit, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "customer": IdFilter(field_name="customer_id"),
        "consultant": IdFilter(field_name="consultant_id"),
        "campaign": IdFilter(field_name="campaign_id"),
        "kind": filters.ChoiceFilter(choices=VisitKind.choices),
        "external_id": filters.CharFilter(),
        **date_range_filters("occurred_at"),
    })


class TestDriveViewSet(ScopedViewSetMixin, UpsertCreateMixin, viewsets.ReadOnlyModelViewSet):
    __test__ = False

    scope = staticmethod(test_drives_for_user)
    serializer_class = TestDriveSerializer
    filterset_class = filterset(TestDrive, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "customer": IdFilter(field_name="customer_id"),
        "consultant": IdFilter(field_name="consultant_id"),
        "external_id": filters.CharFilter(),
        **date_range_filters("occurred_at"),
    })


@extend_schema_view(partial_update=extend_schema(request=OrderDeliverySerializer, responses={200: OrderSerializer}))
class OrderViewSet(ScopedViewSetMixin, UpsertCreateMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Orders; PATCH {"delivered_at"} records the delivery."""

    scope = staticmethod(orders_for_user)
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_class = filterset(Order, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "customer": IdFilter(field_name="customer_id"),
        "consultant": IdFilter(field_name="consultant_id"),
        "campaign": IdFilter(field_name="campaign_id"),
        "delivered": filters.BooleanFilter(field_name="delivered_at", lookup_expr="isnull", exclude=True),
        "external_id": filters.CharFilter(),
        **date_range_filters("ordered_at"),
    })

    def get_serializer_class(self):
        return OrderDeliverySerializer if self.action == "partial_update" else OrderSerializer

    def update(self, request, *args, **kwargs):
        order = self.get_object()
        serializer = OrderDeliverySerializer(order, data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        serializer.save()
        order.refresh_from_db()
        return Response(OrderSerializer(order, context=self.get_serializer_context()).data)
