"""Forms of the sales floor: log a visit or call, a test drive, an order, a delivery."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign
from sales.models import VisitKind

# Records may be entered late, never ahead: a clock skew of a few minutes is tolerated.
FUTURE_SLACK = dt.timedelta(minutes=10)


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def when_field(label) -> forms.DateTimeField:
    return forms.DateTimeField(label=label, widget=DateTimeLocalInput(), initial=lambda: timezone.localtime().replace(
        second=0, microsecond=0))


def not_in_future(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value > timezone.now() + FUTURE_SLACK:
        raise forms.ValidationError(_("This date is in the future."))
    return value


class VisitForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=VisitKind.choices, initial=VisitKind.SHOWROOM)
    occurred_at = when_field(_("When"))
    campaign = forms.ModelChoiceField(label=_("Campaign"), queryset=Campaign.objects.none(), required=False)
    invited = forms.BooleanField(label=_("Came on an invitation"), required=False)
    notes = forms.CharField(label=_("Notes"), max_length=500, required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, campaigns=None, **kwargs):
        super().__init__(*args, **kwargs)
        if campaigns is not None:
            self.fields["campaign"].queryset = campaigns

    def clean_occurred_at(self):
        return not_in_future(self.cleaned_data["occurred_at"])


class TestDriveForm(forms.Form):
    occurred_at = when_field(_("When"))
    model = forms.CharField(label=_("Car model"), max_length=60)

    def clean_occurred_at(self):
        return not_in_future(self.cleaned_data["occurred_at"])


TestDriveForm.__test__ = False  # a form, not a pytest test class


class OrderForm(forms.Form):
    ordered_at = when_field(_("Ordered at"))
    model = forms.CharField(label=_("Car model"), max_length=60)
    price = forms.DecimalField(label=_("Price (CNY)"), min_value=Decimal("0"), max_digits=14, decimal_places=2)
    gross_profit = forms.DecimalField(label=_("Gross profit (CNY)"), max_digits=14, decimal_places=2,
                                      initial=Decimal("0"),
                                      help_text=_("Front-end margin; often negative before the OEM rebate."))
    oem_rebate = forms.DecimalField(label=_("OEM rebate (CNY)"), min_value=Decimal("0"), max_digits=14,
                                    decimal_places=2, initial=Decimal("0"))
    campaign = forms.ModelChoiceField(label=_("Campaign"), queryset=Campaign.objects.none(), required=False)
    delivered_at = forms.DateTimeField(label=_("Delivered at"), required=False, widget=DateTimeLocalInput(),
                                       help_text=_("Leave empty until the car is handed over."))

    def __init__(self, *args, campaigns=None, **kwargs):
        super().__init__(*args, **kwargs)
        if campaigns is not None:
            self.fields["campaign"].queryset = campaigns

    def clean_ordered_at(self):
        return not_in_future(self.cleaned_data["ordered_at"])

    def clean_delivered_at(self):
        return not_in_future(self.cleaned_data["delivered_at"])

    def clean(self):
        data = super().clean()
        ordered, delivered = data.get("ordered_at"), data.get("delivered_at")
        if ordered and delivered and delivered < ordered:
            self.add_error("delivered_at", _("A car cannot be delivered before it was ordered."))
        return data


class DeliveryForm(forms.Form):
    delivered_at = when_field(_("Delivered at"))

    def clean_delivered_at(self):
        return not_in_future(self.cleaned_data["delivered_at"])
