"""Forms of the after-sales desk: service visits, their closing, and callbacks."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from aftersales.models import ServiceKind
from sales.forms import DateTimeLocalInput, not_in_future, when_field


class ServiceVisitForm(forms.Form):
    phone = forms.CharField(label=_("Customer phone"), max_length=20,
                            help_text=_("The customer is found by phone in this store."))
    kind = forms.ChoiceField(label=_("Kind"), choices=ServiceKind.choices, initial=ServiceKind.MAINTENANCE)
    vin = forms.CharField(label=_("VIN"), max_length=17, required=False)
    opened_at = when_field(_("Opened at"))
    in_warranty = forms.BooleanField(label=_("In warranty"), required=False)
    revenue = forms.DecimalField(label=_("Revenue (CNY)"), min_value=Decimal("0"), max_digits=14,
                                 decimal_places=2, initial=Decimal("0"))
    closed_at = forms.DateTimeField(label=_("Closed at"), required=False, widget=DateTimeLocalInput(),
                                    help_text=_("Leave empty while the car is in the workshop."))

    def __init__(self, *args, with_phone: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_phone:
            del self.fields["phone"]

    def clean_vin(self):
        vin = self.cleaned_data["vin"].strip().upper()
        if vin and len(vin) != 17:
            raise forms.ValidationError(_("A VIN has 17 characters."))
        return vin

    def clean_opened_at(self):
        return not_in_future(self.cleaned_data["opened_at"])

    def clean_closed_at(self):
        return not_in_future(self.cleaned_data["closed_at"])

    def clean(self):
        data = super().clean()
        opened, closed = data.get("opened_at"), data.get("closed_at")
        if opened and closed and closed < opened:
            self.add_error("closed_at", _("A repair order cannot close before it was opened."))
        return data


class ServiceCloseForm(forms.Form):
    closed_at = when_field(_("Closed at"))
    revenue = forms.DecimalField(label=_("Revenue (CNY)"), min_value=Decimal("0"), max_digits=14, decimal_places=2)

    def clean_closed_at(self):
        return not_in_future(self.cleaned_data["closed_at"])


class CallbackForm(forms.Form):
    reached = forms.TypedChoiceField(
        label=_("Outcome"), coerce=lambda v: v == "yes", widget=forms.RadioSelect,
        choices=[("yes", _("Reached the customer")), ("no", _("Not reached (no answer, wrong number)"))])
    completed_at = when_field(_("Called at"))
    notes = forms.CharField(label=_("Notes"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_completed_at(self):
        return not_in_future(self.cleaned_data["completed_at"])
