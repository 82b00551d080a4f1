"""The notifications pages: the list with mark-read and clear-all, the preferences, and the
unsubscribe page of digest emails."""

from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import digests, services
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
    form = PreferencesForm(
        request.POST or None, enabled=services.enabled_kinds(request.user), emailed=services.emailed_kinds(request.user)
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            services.set_preferences(request.user, form.in_app_choices())
            services.set_email_preferences(request.user, form.email_choices())
        messages.success(request, "Saved your notification preferences.")
        return redirect("notification_preferences")
    status = HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK
    context = {
        "form": form,
        "delay": digests.humane(settings.EMAIL_DIGEST_DELAY),
        "period": digests.humane(settings.EMAIL_DIGEST_PERIOD),
    }
    return render(request, "notifications/preferences.html", context, status=status)


# The signed token in the address is this page's only credential: no session is used, so there
# is nothing for a cross-site request to ride on, and mail providers' RFC 8058 one-click POST
# (`List-Unsubscribe=One-Click`, from their servers) carries no CSRF token.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token):
    """The link of a digest email, signed in or not: GET asks (mail scanners open links), POST
    (the page's button, or the one-click POST) turns the emails off."""
    try:
        user, kind = digests.read_unsubscribe_token(token)
    except digests.BadUnsubscribeLink as error:
        context = {"invalid": True, "expired": error.expired, "max_age_days": digests.UNSUBSCRIBE_MAX_AGE.days}
        return render(request, "notifications/unsubscribe.html", context, status=HTTPStatus.BAD_REQUEST)
    topic = "what you missed (no more digest emails)" if kind == digests.ALL else digests.TOPICS[kind]
    context = {"email": user.email, "topic": topic}
    if request.method == "POST":
        digests.unsubscribe(user, kind)
        context["done"] = True
    return render(request, "notifications/unsubscribe.html", context)
