"""Forms of the marketing pages: campaigns, cost entries, monthly traffic plans."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Channel


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "channel", "starts_on", "ends_on", "cycle_days", "budget", "fixed_cost",
                  "variable_cost_per_attendee", "contribution_per_deal", "reach", "inquiries", "invited",
                  "planned_attendees"]
        widgets = {"starts_on": forms.DateInput(attrs={"type": "date"}),
                   "ends_on": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = Channel.choices
        for name in ("budget", "fixed_cost", "variable_cost_per_attendee"):
            self.fields[name].min_value = Decimal("0")
            self.fields[name].validators.append(_not_negative)
        self.fields["contribution_per_deal"].validators.append(_positive)

    def clean(self):
        data = super().clean()
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", _("A campaign cannot end before it starts."))
        return data

    def _post_clean(self):
        # The model is checked by campaigns.services (the one place that writes it), not by the form.
        pass


def _not_negative(value):
    if value is not None and value < 0:
        raise forms.ValidationError(_("This amount cannot be negative."))


def _positive(value):
    if value is not None and value <= 0:
        raise forms.ValidationError(_("A contribution per deal must be above zero, or empty."))


class CampaignCostForm(forms.Form):
    incurred_on = forms.DateField(label=_("Incurred on"), widget=forms.DateInput(attrs={"type": "date"}),
                                  initial=dt.date.today)
    amount = forms.DecimalField(label=_("Amount (CNY)"), max_digits=14, decimal_places=2, min_value=Decimal("0"))
    category = forms.CharField(label=_("Category"), max_length=32, required=False,
                               widget=forms.TextInput(attrs={"placeholder": _("e.g. media, venue, gifts")}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # also drawn inline on the campaign page, without crispy
            field.widget.attrs.setdefault("class", "form-control form-control-sm")


class MonthField(forms.DateField):
    """A month as <input type=month> (YYYY-MM), cleaned to its first day."""

    input_formats = ["%Y-%m"]
    widget = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")

    def to_python(self, value):
        day = super().to_python(value)
        return day.replace(day=1) if day else day


class TrafficPlanForm(forms.Form):
    period = MonthField(label=_("Month"))
    planned_traffic = forms.IntegerField(label=_("Planned traffic (parties)"), min_value=0, max_value=1_000_000)
