"""The audit trail page: managers read (never edit) who created, changed, deleted or exported what.

Phone numbers are masked here for everyone, managers included: the trail keeps the values as they were
written, and reading it is not a way around PIPL's rule of who may see a number (dealership.security).
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from django.apps import apps
from django.core.paginator import Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealership.forms import AuditFilterForm
from dealership.models import AuditEntry, Dealership, Role, User
from dealership.security import mask_phone, mask_phones_in
from dealership.selectors import audit_entries_filtered
from dealership.views import csv_response, page_querystring, roles_required, wants_csv

PER_PAGE = 50
# Record types with a page of their own, by the URL name that shows one record.
RECORD_PAGES = {"customers.Customer": "customers:detail", "campaigns.Campaign": "kpis:campaign"}


class CappedPaginator(Paginator):
    """Counts at most CAP entries: the trail only grows, and a COUNT over all of it on every page would grow
    with it. Past the cap the pager stops; the dates filter reaches older entries."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP].count()

    @property
    def capped(self) -> bool:
        return self.count >= self.CAP


@dataclass
class AuditRow:
    entry: AuditEntry
    tz: zoneinfo.ZoneInfo | dt.tzinfo
    store: Dealership | None
    who: str
    what: str
    record: str
    url: str = ""
    changes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def at(self) -> dt.datetime:
        return self.entry.at.astimezone(self.tz)


def _model(label: str) -> type[models.Model] | None:
    # Exports name their list ("customers", "kpi_alerts"), not a model.
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


def _shown(name: str, value: object, model_field: models.Field | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if model_field is not None and model_field.choices:
        value = dict(model_field.flatchoices).get(value, value)
    text = str(value)
    return mask_phone(text) if "phone" in name else mask_phones_in(text)


def masked_changes(entry: AuditEntry, model: type[models.Model] | None = None) -> list[tuple[str, str, str]]:
    """(field label, old, new) of each changed field, as text, phone numbers masked."""
    model = model or _model(entry.model)
    fields = {f.attname: f for f in model._meta.concrete_fields} if model else {}
    rows = []
    for name, pair in sorted((entry.changes or {}).items()):
        old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        model_field = fields.get(name)
        label = str(model_field.verbose_name) if model_field else name
        rows.append((label, _shown(name, old, model_field), _shown(name, new, model_field)))
    return rows


def changes_text(changes: list[tuple[str, str, str]]) -> str:
    return "; ".join(f"{label}: {old} → {new}" for label, old, new in changes)


def masked_record(entry: AuditEntry) -> str:
    # A customer without a name is shown by his number (Customer.__str__): a repr of digits is a phone.
    text = entry.object_repr
    return mask_phone(text) if text.lstrip("+").isdigit() else mask_phones_in(text)


def _url(entry: AuditEntry) -> str:
    name = RECORD_PAGES.get(entry.model)
    if not name or not entry.object_id.isdigit() or entry.action == AuditEntry.Action.DELETE:
        return ""
    try:
        return reverse(name, args=[int(entry.object_id)])
    except NoReverseMatch:  # that app's pages are not installed
        return ""


def audit_rows(entries: Iterable[AuditEntry]) -> list[AuditRow]:
    """Entries as the page and the CSV show them: two queries for any number of entries (the trail keeps
    plain ids, so the people and stores are fetched in bulk rather than joined)."""
    entries = list(entries)
    people = User.objects.only("id", "username", "name").in_bulk({e.actor_id for e in entries if e.actor_id})
    stores = Dealership.objects.in_bulk({e.dealership_id for e in entries if e.dealership_id})
    here = timezone.get_current_timezone()
    rows = []
    for e in entries:
        store, model = stores.get(e.dealership_id), _model(e.model)
        person = people.get(e.actor_id)
        rows.append(AuditRow(
            entry=e, tz=store.tzinfo if store else here, store=store,
            who=person.display_name if person else e.actor_name or _("system"),
            what=str(model._meta.verbose_name) if model else e.model, record=masked_record(e), url=_url(e),
            changes=masked_changes(e, model)))
    return rows


def _csv_rows(qs) -> Iterable[list[object]]:
    batch: list[AuditEntry] = []
    for entry in qs.iterator(chunk_size=2000):
        batch.append(entry)
        if len(batch) == 2000:
            yield from _csv_lines(audit_rows(batch))
            batch = []
    yield from _csv_lines(audit_rows(batch))


def _csv_lines(rows: list[AuditRow]) -> Iterable[list[object]]:
    for r in rows:
        yield [r.at.isoformat(), r.store.code if r.store else "", r.who, r.entry.actor_name, r.entry.address,
               r.entry.get_action_display(), r.what, r.entry.object_id, r.record,
               changes_text(r.changes)]


def _since_until(form: AuditFilterForm) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Whole days of the viewer's time zone (his store's, set by the middleware)."""
    data, tz = form.cleaned_data, timezone.get_current_timezone()
    since = dt.datetime.combine(data["since"], dt.time.min, tz) if data.get("since") else None
    until = dt.datetime.combine(data["until"] + dt.timedelta(days=1), dt.time.min, tz) if data.get("until") else None
    return since, until


@roles_required(Role.MANAGER, Role.GROUP_MANAGER)
def audit_trail(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    form = AuditFilterForm(request.GET or None, user=user)
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        since, until = _since_until(form)
        filters = {"kind": data["kind"], "action": data["action"], "since": since, "until": until,
                   "actor_id": data["actor"].pk if data["actor"] else None, "object_id": data["object_id"].strip()}
    elif form.is_bound:
        filters = None  # a bad filter shows its error and no entries, rather than the whole trail
    qs = audit_entries_filtered(user, **filters) if filters is not None else AuditEntry.objects.none()
    if wants_csv(request):
        # The export's own entry is written before the rows are read: the file shows the trail as it was asked.
        qs = qs.filter(at__lt=timezone.now())
        return csv_response(request, "audit_trail", [
            _("When"), _("Store"), _("By"), _("User name"), _("Address"), _("Action"), _("Record type"),
            _("Record id"), _("Record"), _("Changes")], _csv_rows(qs))
    page = CappedPaginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "audit/trail.html", {
        "form": form, "page": page, "rows": audit_rows(page), "query": page_querystring(request),
        "many_stores": user.sees_all_stores or user.role == Role.GROUP_MANAGER,
    })
