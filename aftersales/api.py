"""/api/v1/service-visits/ and /callbacks/: after-sales records (spec/api.md), written by aftersales.services."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from aftersales.models import Callback, ServiceKind, ServiceVisit
from aftersales.selectors import callbacks_for_user, service_visits_for_user
from aftersales.services import callback_create, service_visit_close, service_visit_create
from customers.selectors import customers_for_user
from dealership.api import (EXTERNAL_ID, IdFilter, ScopedRelatedField, ScopedViewSetMixin, StoreDateTimeField,
                            StoreSerializer, UpsertCreateMixin, UpsertSerializer, date_range_filters, filterset,
                            money_field)
from dealership.selectors import staff_for_user
from sales.selectors import orders_for_user



class ServiceVisitSerializer(UpsertSerializer):
    dealership = serializers.PrimaryKeyRelatedField(read_only=True)
    customer = ScopedRelatedField(customers_for_user)
    advisor = ScopedRelatedField(staff_for_user, allow_null=True, required=False)
    kind = serializers.ChoiceField(choices=ServiceKind.choices, default=ServiceKind.MAINTENANCE)
    opened_at = StoreDateTimeField()
    closed_at = StoreDateTimeField(allow_null=True, required=False)
    revenue = money_field(required=False)

    class Meta:
        model = ServiceVisit
        fields = ["id", "external_id", "dealership", "customer", "advisor", "vin", "kind", "opened_at", "closed_at",
                  "revenue", "in_warranty"]
        validators: list = []
        extra_kwargs = {"external_id": EXTERNAL_ID}

    def create(self, validated_data: dict) -> ServiceVisit:
        user = self.context["request"].user
        self.claim_external_id(ServiceVisit, dealership=validated_data["customer"].dealership,
                               external_id=validated_data.get("external_id"), scope=service_visits_for_user(user))
        return service_visit_create(by=user, **validated_data)


class ServiceVisitCloseSerializer(StoreSerializer):
    """PATCH /service-visits/{id}/: settle the repair order (结算): when, and the final revenue."""

    closed_at = StoreDateTimeField(required=False, help_text="Default: now.")
    revenue = money_field(required=False)

    def update(self, instance: ServiceVisit, validated_data: dict) -> ServiceVisit:
        return service_visit_close(service_visit=instance, **validated_data)


class CallbackSerializer(UpsertSerializer):
    dealership = serializers.PrimaryKeyRelatedField(read_only=True)
    order = ScopedRelatedField(orders_for_user, allow_null=True, required=False,
                               help_text="The delivery called about (or null: then service_visit).")
    service_visit = ScopedRelatedField(service_visits_for_user, allow_null=True, required=False)
    staff = ScopedRelatedField(staff_for_user, allow_null=True, required=False)
    completed_at = StoreDateTimeField(required=False, help_text="Default: now.")

    class Meta:
        model = Callback
        fields = ["id", "external_id", "dealership", "order", "service_visit", "staff", "completed_at", "reached",
                  "notes"]
        validators: list = []
        extra_kwargs = {"external_id": EXTERNAL_ID}

    def validate(self, attrs: dict) -> dict:
        if (attrs.get("order") is None) == (attrs.get("service_visit") is None):
            message = _("A callback is about exactly one delivery or one service visit.")
            raise serializers.ValidationError({"order": [message], "service_visit": [message]})
        return super().validate(attrs)

    def create(self, validated_data: dict) -> Callback:
        subject = validated_data.get("order") or validated_data["service_visit"]
        self.claim_external_id(Callback, dealership=subject.dealership, external_id=validated_data.get("external_id"),
                               scope=callbacks_for_user(self.context["request"].user))
        return callback_create(**validated_data)


@extend_schema_view(partial_update=extend_schema(request=ServiceVisitCloseSerializer,
                                                 responses={200: ServiceVisitSerializer}))
class ServiceVisitViewSet(ScopedViewSetMixin, UpsertCreateMixin, mixins.UpdateModelMixin,
                          viewsets.ReadOnlyModelViewSet):
    """Repair orders (工单); PATCH {"closed_at", "revenue"} settles one."""

    scope = staticmethod(service_visits_for_user)
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_class = filterset(ServiceVisit, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "customer": IdFilter(field_name="customer_id"),
        "advisor": IdFilter(field_name="advisor_id"),
        "kind": filters.ChoiceFilter(choices=ServiceKind.choices),
        "in_warranty": filters.BooleanFilter(),
        "closed": filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull", exclude=True),
        "vin": filters.CharFilter(),
        "external_id": filters.CharFilter(),
        **date_range_filters("opened_at"),
    })

    def get_serializer_class(self):
        return ServiceVisitCloseSerializer if self.action == "partial_update" else ServiceVisitSerializer

    def update(self, request, *args, **kwargs) -> Response:
        visit = self.get_object()
        serializer = ServiceVisitCloseSerializer(visit, data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        serializer.save()
        visit.refresh_from_db()
        return Response(ServiceVisitSerializer(visit, context=self.get_serializer_context()).data)


class CallbackViewSet(ScopedViewSetMixin, UpsertCreateMixin, viewsets.ReadOnlyModelViewSet):
    """回访 after deliveries and service visits: exactly one subject each."""

    scope = staticmethod(callbacks_for_user)
    serializer_class = CallbackSerializer
    filterset_class = filterset(Callback, fields={
        "dealership": IdFilter(field_name="dealership_id"),
        "order": IdFilter(field_name="order_id"),
        "service_visit": IdFilter(field_name="service_visit_id"),
        "staff": IdFilter(field_name="staff_id"),
        "reached": filters.BooleanFilter(),
        "external_id": filters.CharFilter(),
        **date_range_filters("completed_at"),
    })
