"""The audit trail's filter form: it parses the query string; dealership.selectors does the reading."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from dealership.models import AuditEntry, User
from dealership.selectors import staff_for_user

KIND_CHOICES = [
    ("", _("All records")), ("customer", _("Customer")), ("order", _("Order")),
    ("service_visit", _("Service visit")), ("campaign", _("Campaign")), ("target", _("KPI target")),
    ("alert", _("KPI alert")), ("export", _("Export of a list")),
]


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.display_name} ({obj.username})"


class AuditFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Record type"), required=False, choices=KIND_CHOICES)
    action = forms.ChoiceField(label=_("Action"), required=False,
                               choices=[("", _("All actions")), *AuditEntry.Action.choices])
    actor = StaffChoiceField(label=_("By"), required=False, queryset=User.objects.none(), empty_label=_("Anyone"))
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    object_id = forms.CharField(label=_("Record id"), required=False, max_length=64)

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        # The staff of the stores one may see, and oneself (a group manager belongs to no store).
        self.fields["actor"].queryset = (staff_for_user(user) | User.objects.filter(pk=user.pk)).order_by("username")
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{css} {css}-sm"

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", _("The end date is before the start date."))
        return data
