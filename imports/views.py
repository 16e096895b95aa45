"""The import pages: upload, the job's progress and report, the bad-rows CSV, the template files."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.views.decorators.http import require_POST

from imports.forms import ImportForm
from imports.kinds import KINDS
from imports.selectors import (accepted_values, import_job_get_for_user, import_jobs_for_user, kinds_for_page,
                               template_csv, template_xlsx)
from imports.services import import_allowed, import_job_create, import_job_rerun, progress_key


def _may_import(user) -> bool:
    return any(import_allowed(user, kind) for kind in KINDS)


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    if not _may_import(request.user):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        job = import_job_create(kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"], user=request.user,
                                dealership=form.cleaned_data["dealership"], dry_run=form.cleaned_data["dry_run"],
                                language=translation.get_language() or "zh-hans")
        return redirect("imports:job", pk=job.pk)
    kinds = [{"spec": k, "columns": [{"column": c, "accepted": accepted_values(c)} for c in k.columns]}
             for k in kinds_for_page() if import_allowed(request.user, k.name)]
    jobs = import_jobs_for_user(request.user)[:20]
    return render(request, "imports/upload.html", {"form": form, "kinds": kinds, "jobs": jobs})


@login_required
def job_detail(request: HttpRequest, pk) -> HttpResponse:
    job = import_job_get_for_user(request.user, pk)
    return render(request, "imports/job.html", {"job": job, "report": job.report,
                                                "spec": KINDS.get(job.kind)})


@login_required
def job_status(request: HttpRequest, pk) -> JsonResponse:
    job = import_job_get_for_user(request.user, pk)
    progress = 1.0 if job.is_finished else cache.get(progress_key(job.pk), job.progress)
    return JsonResponse({"state": job.state, "progress": progress, "finished": job.is_finished})


@login_required
def bad_rows_download(request: HttpRequest, pk) -> FileResponse:
    job = import_job_get_for_user(request.user, pk)
    path = Path(job.file_path).with_name(f"bad-rows-{job.pk}.csv")
    if not path.exists():
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"{Path(job.file_name).stem}-errors.csv",
                        content_type="text/csv; charset=utf-8")


@login_required
@require_POST
def job_rerun(request: HttpRequest, pk) -> HttpResponse:
    job = import_job_get_for_user(request.user, pk)
    if not import_allowed(request.user, job.kind):
        raise PermissionDenied
    new = import_job_rerun(job=job, user=request.user, dry_run=request.POST.get("dry_run") == "1")
    return redirect("imports:job", pk=new.pk)


@login_required
def template_download(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    if kind not in KINDS or fmt not in ("csv", "xlsx"):
        raise Http404
    if fmt == "csv":
        response = HttpResponse(template_csv(kind), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(template_xlsx(kind), content_type=(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.{fmt}"'
    return response
