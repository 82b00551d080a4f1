"""The notifications pages: the list with mark-read and clear-all, and the preferences."""

from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import services
from .forms import MarkReadForm, PreferencesForm
from .models import Notification

NOTIFICATIONS_PER_PAGE = 25


@login_required
def notification_list(request):
    unread_only = request.GET.get("unread") == "1"
    notifications = Notification.objects.filter(recipient=request.user).order_by("-created_at", "-id")
    if unread_only:
        notifications = notifications.filter(read_at__isnull=True)
    page = Paginator(notifications, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "notifications/notification_list.html", {"page": page, "unread_only": unread_only})


@login_required
@require_POST
def mark_read(request):
    form = MarkReadForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That is not a notification.")
        return redirect("notification_list")
    notification_id = form.cleaned_data["id"]
    cleared, _ = services.mark_read(request.user, None if notification_id is None else [notification_id])
    if notification_id is None:
        messages.success(request, f"Marked {cleared} notification{'' if cleared == 1 else 's'} read.")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(back)
    return redirect("notification_list")


@login_required
@require_POST
def delete(request):
    """One notification (`id`), or without it every one already read."""
    form = MarkReadForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That is not a notification.")
        return redirect("notification_list")
    notification_id = form.cleaned_data["id"]
    deleted = services.delete(request.user, None if notification_id is None else [notification_id])
    if notification_id is None:
        messages.success(request, f"Deleted {deleted} read notification{'' if deleted == 1 else 's'}.")
    return redirect("notification_list")


@login_required
def preferences(request):
    form = PreferencesForm(request.POST or None, enabled=services.enabled_kinds(request.user))
    if request.method == "POST" and form.is_valid():
        services.set_preferences(request.user, form.cleaned_data)
        messages.success(request, "Saved your notification preferences.")
        return redirect("notification_preferences")
    status = HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK
    return render(request, "notifications/preferences.html", {"form": form}, status=status)
