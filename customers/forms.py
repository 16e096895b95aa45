"""Forms of the customer pages. They parse and validate input; customers.services does the writing."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import PRE_PURCHASE, Intent, Source, Stage
from dealership.models import User


class CustomerFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or phone"), required=False)
    stage = forms.ChoiceField(label=_("Stage"), required=False, choices=[("", _("All stages")), *Stage.choices])
    intent = forms.ChoiceField(label=_("Intent"), required=False, choices=[("", _("Any intent")), *Intent.choices])
    lost = forms.ChoiceField(label=_("Lost"), required=False, choices=[
        ("", _("Active and lost")), ("no", _("Active only")), ("yes", _("Lost only"))])
    idle = forms.IntegerField(label=_("No follow-up for days"), required=False, min_value=1, max_value=3650)


class CustomerForm(forms.Form):
    """Create or edit a customer. `consultants` limits the owner to the store's sales consultants."""

    name = forms.CharField(label=_("Name"), max_length=80)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)
    source = forms.ChoiceField(label=_("Source"), choices=Source.choices, initial=Source.WALK_IN)
    intent = forms.ChoiceField(label=_("Intent"), choices=[("", "—"), *Intent.choices], required=False)
    consultant = forms.ModelChoiceField(label=_("Consultant"), queryset=User.objects.none(), required=False)
    next_follow_up_on = forms.DateField(label=_("Next follow-up"), required=False,
                                        widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, consultants=None, **kwargs):
        super().__init__(*args, **kwargs)
        if consultants is None:
            del self.fields["consultant"]  # a consultant's own customers are his
        else:
            self.fields["consultant"].queryset = consultants


class CustomerCreateForm(CustomerForm):
    stage = forms.ChoiceField(
        label=_("Initial stage"), initial=Stage.POTENTIAL,
        choices=[(Stage.MARKET, Stage.MARKET.label), (Stage.POTENTIAL, Stage.POTENTIAL.label)],
        help_text=_("Potential: the customer has made contact (visit, call, enquiry)."),
    )


class LostForm(forms.Form):
    reason = forms.CharField(label=_("Why was the deal lost?"), max_length=200,
                             widget=forms.TextInput(attrs={"placeholder": _("e.g. bought a competitor's car")}))

    def __init__(self, *args, customer=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer

    def clean(self):
        data = super().clean()
        if self.customer is not None and self.customer.stage not in PRE_PURCHASE:
            raise forms.ValidationError(_("Only a customer who has not bought yet can be marked lost."))
        return data


class StageMoveForm(forms.Form):
    stage = forms.ChoiceField(label=_("Move to stage"), choices=Stage.choices)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
