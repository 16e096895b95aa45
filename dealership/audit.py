"""The audit trail: every create, change and delete of the audited records, with old and new values.

Why model signals here, when business flow never uses them (style.md)? Auditing is not business flow: it
must see every write path — services, admin, a shell — and a list of explicit calls is one that a new path
forgets. Bulk paths that bypass save() (imports by COPY) and exports record one entry each through
`audit_record`.
"""
from __future__ import annotations

import contextvars
import json
import logging

from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_save
from django.http import HttpRequest

from dealership.models import AuditEntry
from dealership.security import current_actor, current_address

log = logging.getLogger(__name__)

current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("current_request", default=None)
IGNORED_FIELDS = {"updated_at", "last_contact_at"}


def _actor():
    actor = current_actor.get()
    if actor is None:
        request = current_request.get()
        user = getattr(request, "user", None) if request is not None else None
        actor = user if user is not None and user.is_authenticated else None
    return actor


def _plain(value):
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _values(instance: models.Model) -> dict:
    return {f.attname: _plain(getattr(instance, f.attname)) for f in instance._meta.concrete_fields
            if f.attname not in IGNORED_FIELDS}


def audit_record(*, action: str, model: str, object_id="", object_repr: str = "", dealership_id=None,
                 changes: dict | None = None) -> AuditEntry:
    """Write one entry: for exports, imports and anything else that is not a single model save."""
    actor = _actor()
    request = current_request.get()
    address = current_address.get() or (request.META.get("REMOTE_ADDR", "") if request is not None else "")
    return AuditEntry.objects.create(
        actor_id=actor.pk if actor else None, actor_name=str(actor.username) if actor else "system",
        address=address[:64], dealership_id=dealership_id, action=action, model=model,
        object_id=str(object_id), object_repr=str(object_repr)[:200], changes=_plain(changes or {}),
    )


def _before_save(sender, instance, raw=False, **kwargs):
    # One extra primary-key read per update: the old values, so the entry can say what changed.
    instance._audit_old = None
    if instance.pk is not None and not raw:
        instance._audit_old = sender._default_manager.filter(pk=instance.pk).values(
            *[f.attname for f in sender._meta.concrete_fields if f.attname not in IGNORED_FIELDS]).first()


def _after_save(sender, instance, created, raw=False, **kwargs):
    if raw:
        return
    new = _values(instance)
    old = getattr(instance, "_audit_old", None)
    if created or old is None:
        changes = {k: [None, v] for k, v in new.items() if v not in (None, "", False) and k != "id"}
        action = AuditEntry.Action.CREATE
    else:
        old = _plain(old)
        changes = {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}
        if not changes:
            return
        action = AuditEntry.Action.UPDATE
    audit_record(action=action, model=sender._meta.label, object_id=instance.pk, object_repr=str(instance),
                 dealership_id=getattr(instance, "dealership_id", None), changes=changes)


def _after_delete(sender, instance, **kwargs):
    audit_record(action=AuditEntry.Action.DELETE, model=sender._meta.label, object_id=instance.pk,
                 object_repr=str(instance), dealership_id=getattr(instance, "dealership_id", None),
                 changes={k: [v, None] for k, v in _values(instance).items()})


def connect() -> None:
    """Called once from DealershipConfig.ready(): models are named by label, so no app is imported."""
    for label in settings.AUDITED_MODELS:
        model = apps.get_model(label)
        uid = f"audit:{label}"
        pre_save.connect(_before_save, sender=model, dispatch_uid=uid + ":pre")
        post_save.connect(_after_save, sender=model, dispatch_uid=uid + ":post")
        post_delete.connect(_after_delete, sender=model, dispatch_uid=uid + ":del")
