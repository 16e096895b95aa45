"""Forms of the plan pages: they parse and present; every rule is in plans.services."""
from __future__ import annotations

import datetime as dt

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Channel
from dealership.models import Dealership, User
from kpis.registry import KPIS
from plans.models import PART_FIELDS, GoalDirection, MarketingPlan, PeriodKind


def parse_period(raw: str) -> dt.date:
    """'2025-03' → 1 March 2025 (the API's and the pages' period format)."""
    try:
        return dt.datetime.strptime((raw or "").strip(), "%Y-%m").date()
    except ValueError:
        raise ValidationError(_("Enter the period as YYYY-MM.")) from None


def kpi_choices() -> list[tuple[str, str]]:
    zh = (get_language() or "").startswith("zh")
    return [(code, f"{d.name_zh if zh else d.name} ({code})") for code, d in KPIS.items()]


class _CrispyForm(forms.Form):
    submit_label = _("Save")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", self.submit_label))


class PlanCreateForm(_CrispyForm):
    submit_label = _("Create the plan")
    dealership = forms.ModelChoiceField(label=_("Dealership"), queryset=Dealership.objects.none())
    period = forms.CharField(label=_("Period"), help_text=_("YYYY-MM: the month, or the first month of the quarter."),
                             widget=forms.TextInput(attrs={"type": "month"}))
    period_kind = forms.ChoiceField(label=_("Period kind"), choices=PeriodKind.choices, initial=PeriodKind.MONTH)
    title = forms.CharField(label=_("Title"), max_length=160, required=False)
    budget = forms.DecimalField(label=_("Budget"), min_value=0, max_digits=14, decimal_places=2, required=False,
                                help_text=_("Empty: the copied plan's budget, or 0."))
    copy_from = forms.ModelChoiceField(label=_("Start from"), queryset=MarketingPlan.objects.none(), required=False,
                                       help_text=_("An earlier plan of the store: its parts, budget and goals."))

    def __init__(self, *args, dealerships, plans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["dealership"].queryset = dealerships
        self.fields["copy_from"].queryset = plans
        self.fields["copy_from"].label_from_instance = lambda p: f"{p.dealership.code} {p.period_label} {p.title}"
        if dealerships.count() == 1:
            self.fields["dealership"].initial = dealerships.first()

    def clean_period(self) -> dt.date:
        return parse_period(self.cleaned_data["period"])


class PlanForm(forms.ModelForm):
    class Meta:
        model = MarketingPlan
        fields = ["title", "budget", *PART_FIELDS]
        widgets = {name: forms.Textarea(attrs={"rows": 3}) for name in PART_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", _("Save")))


class GoalForm(_CrispyForm):
    submit_label = _("Set the goal")
    code = forms.ChoiceField(label=_("KPI"))
    target = forms.FloatField(label=_("Target"), help_text=_("Rates as fractions: 0.9 = 90%."))
    control_line = forms.FloatField(label=_("Control line"))
    direction = forms.ChoiceField(label=_("Direction"), required=False,
                                  choices=[("", _("The KPI's own")), *GoalDirection.choices])
    measure = forms.CharField(label=_("Measures"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = kpi_choices()


class CampaignLinkForm(_CrispyForm):
    submit_label = _("Link the campaign")
    campaign = forms.ModelChoiceField(label=_("Campaign"), queryset=Campaign.objects.none())
    expected_roi = forms.FloatField(label=_("Expected ROI"), required=False,
                                    help_text=_("As a fraction (0.5 = 50%). Empty: at least break even."))

    def __init__(self, *args, campaigns, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = campaigns


class CampaignNewForm(_CrispyForm):
    submit_label = _("Create and link the campaign")
    name = forms.CharField(label=_("Name"), max_length=120)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    starts_on = forms.DateField(label=_("Starts on"), widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label=_("Ends on"), widget=forms.DateInput(attrs={"type": "date"}))
    budget = forms.DecimalField(label=_("Budget"), min_value=0, max_digits=14, decimal_places=2)
    planned_attendees = forms.IntegerField(label=_("Planned attendance"), min_value=0, initial=0)
    expected_roi = forms.FloatField(label=_("Expected ROI"), required=False,
                                    help_text=_("As a fraction (0.5 = 50%). Empty: at least break even."))


class MilestoneForm(_CrispyForm):
    submit_label = _("Add the milestone")
    title = forms.CharField(label=_("Milestone"), max_length=160)
    due_on = forms.DateField(label=_("Due on"), widget=forms.DateInput(attrs={"type": "date"}))
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = staff


def form_errors_from(form: forms.Form, error: ValidationError) -> None:
    """Put a service's {field: message} errors on the form's fields (others above the form)."""
    for field, messages in error.message_dict.items() if hasattr(error, "error_dict") else [(None, error.messages)]:
        form.add_error(field if field in form.fields else None, messages)
