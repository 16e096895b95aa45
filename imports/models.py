"""An import job: one uploaded file of one kind, its progress and its report."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealership.models import Dealership


class ImportJob(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Imported")
        CHECKED = "checked", _("Checked (dry run)")
        FAILED = "failed", _("Rejected")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=32)
    # The store chosen on the page or with --dealership; rows may still name their store by code.
    dealership = models.ForeignKey(Dealership, on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="+", verbose_name=_("dealership"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("imported by"))
    file_name = models.CharField(_("file"), max_length=255)
    file_path = models.CharField(max_length=500, help_text="Where the upload is kept, under MEDIA_ROOT.")
    dry_run = models.BooleanField(_("dry run"), default=False)
    language = models.CharField(max_length=10, default="zh-hans")
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.PENDING)
    progress = models.FloatField(default=0)
    report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=["pending", "running", "done", "checked", "failed"]),
                                   name="import_job_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.CHECKED, self.State.FAILED)
