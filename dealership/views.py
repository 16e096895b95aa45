"""Site-wide pages: each role's home, the language switch, the health check, and CSV export."""
from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from dealership.models import Role, User

# Where each role starts its day.
ROLE_HOME = {
    Role.CONSULTANT: "aftersales:today",
    Role.ADVISOR: "aftersales:service_visits",
    Role.MARKETING: "campaigns:list",
    Role.MANAGER: "kpis:dashboard",
    Role.GROUP_MANAGER: "kpis:compare",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user: User = request.user
    if user.is_superuser:
        return redirect("kpis:dashboard")
    return redirect(ROLE_HOME.get(user.role, "customers:list"))


@login_required
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Switch the language and remember it on the staff member (the middleware reads both)."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    # A preference of one's own row: not business flow, so no service of its own.
    User.objects.filter(pk=request.user.pk).update(language=language)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600,
                        samesite="Lax", secure=request.is_secure())
    return response


def health(request: HttpRequest) -> JsonResponse:
    """Liveness for the load balancer and docker-compose: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def wants_csv(request: HttpRequest) -> bool:
    return request.GET.get("format") == "csv"


def csv_response(request: HttpRequest, filename: str, header: Sequence[str],
                 rows: Iterable[Sequence[object]]) -> HttpResponse:
    """Every list page exports what it shows; a BOM so that Excel opens Chinese text as UTF-8. Each
    export is one entry of the audit trail (PIPL: who took which list out of the system)."""
    from dealership.audit import audit_record

    user = request.user
    audit_record(action="export", model=filename, object_repr=request.get_full_path(),
                 dealership_id=getattr(user, "dealership_id", None))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    response.write("\ufeff")
    writer = csv.writer(response)
    writer.writerow([str(h) for h in header])
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return response


def form_error_from_service(form, error) -> None:
    """Show a service's ValidationError next to the field it names, or above the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def page_querystring(request: HttpRequest) -> str:
    """The current filters without `page`, for the pager links and the CSV link."""
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return query.urlencode()


def roles_required(*roles: str):
    """Pages of one department: other roles get a 403 (a superuser passes everywhere)."""
    from functools import wraps

    from django.core.exceptions import PermissionDenied

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args, **kwargs):
            if not (request.user.is_superuser or request.user.role in roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)
        return wrapped
    return decorator
