from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .presentation import present
from .registry import public_report, run_checks


def may_see_details(request) -> bool:
    """Staff, or a caller presenting HEALTH_TOKEN (an empty token never matches)."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = request.GET.get("token", "")
    return bool(settings.HEALTH_TOKEN) and constant_time_compare(token, settings.HEALTH_TOKEN)


@never_cache
@require_GET
def health(request):
    """200 when every required check is ok or degraded, 503 when one is down."""
    report = run_checks()
    body = report if may_see_details(request) else public_report(report)
    return JsonResponse(body, status=503 if report["status"] == "down" else 200)


@never_cache
@staff_member_required
@require_GET
def status_page(request):
    report = run_checks()
    return render(request, "health/status.html", {"report": report, **present(report)})
