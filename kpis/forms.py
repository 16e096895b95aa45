"""Forms of the KPI pages: targets and control lines, and the corrective action that closes an alert."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kpis.models import Direction
from kpis.registry import KPIS
from kpis.selectors import kpi_label


class KpiTargetForm(forms.Form):
    code = forms.ChoiceField(label=_("KPI"))
    target = forms.FloatField(label=pgettext_lazy("kpi", "Target"), help_text=_("Rates as fractions: 0.9 is 90%."))
    control_line = forms.FloatField(label=_("Control line"),
                                    help_text=_("Beyond this line (on the bad side) an alert opens."))
    direction = forms.ChoiceField(label=_("Direction"), choices=Direction.choices)
    for_all_stores = forms.BooleanField(label=_("Default for every store"), required=False)

    def __init__(self, *args, allow_default: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [(code, f"{kpi_label(code)} ({code})") for code in KPIS]
        if not allow_default:
            del self.fields["for_all_stores"]

    def clean(self):
        data = super().clean()
        target, line, direction = data.get("target"), data.get("control_line"), data.get("direction")
        if target is not None and line is not None and direction:
            if direction == Direction.HIGHER and line > target:
                self.add_error("control_line", _("When higher is better, the control line must be at or below the target."))
            if direction == Direction.LOWER and line < target:
                self.add_error("control_line", _("When lower is better, the control line must be at or above the target."))
        return data


class AlertCloseForm(forms.Form):
    corrective_action = forms.CharField(
        label=_("Corrective action"), max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("What was done, by whom, by when")}))
