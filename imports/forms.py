from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from dealership.models import User
from dealership.selectors import dealerships_for_user
from imports.kinds import KINDS
from imports.services import import_allowed

MAX_UPLOAD_BYTES = 500 * 1024 * 1024


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"))
    dealership = forms.ModelChoiceField(queryset=None, label=_("Store"), required=False,
                                        help_text=_("For files without a store column (门店代码)."))
    file = forms.FileField(label=_("File (CSV or .xlsx)"))
    dry_run = forms.BooleanField(label=_("Dry run: check and show what would change, write nothing"),
                                 required=False, initial=True)

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["kind"].choices = [(k.name, k.label) for k in KINDS.values() if import_allowed(user, k.name)]
        stores = dealerships_for_user(user)
        self.fields["dealership"].queryset = stores
        if stores.count() == 1:
            self.fields["dealership"].initial = stores.first()

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty (0 bytes)."))
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 500 MB: split it."))
        return upload
