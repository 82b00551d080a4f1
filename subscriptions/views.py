"""The subscriptions pages: connected accounts (with the OAuth connect flow), subscriptions and
the feed. Forms post and redirect back (post/redirect/get)."""

import logging
import re
from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from project.accounts.services import Conflict
from project.resilience.breaker import DependencyError

from . import oauth, services
from .access import accounts_for, feed_for, get_account, get_subscription, subscriptions_for
from .forms import SubscriptionForm
from .models import ProviderAccount
from .providers import get_provider, providers

logger = logging.getLogger(__name__)

#: Where the connect flow keeps its state and PKCE verifier between the redirect and the callback.
CONNECT_SESSION_KEY = "subscriptions_connect"
FEED_PER_PAGE = 50
#: An OAuth error code as RFC 6749 spells them; anything else from the query string is not shown.
OAUTH_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


def _gallery(accounts) -> list[dict]:
    """Every registered provider, configured or not, with the user's active accounts on it: a
    provider the server has no client for is shown disabled, saying which settings enable it."""
    active = {}
    for account in accounts:
        if account.status == ProviderAccount.Status.ACTIVE:
            active.setdefault(account.provider, []).append(account)
    return [{"provider": provider, "accounts": active.get(provider.name, [])} for provider in providers()]


@login_required
def account_list(request):
    accounts = list(accounts_for(request.user).order_by("provider", "created_at"))
    context = {"accounts": accounts, "gallery": _gallery(accounts), "callback_uri": _callback_uri(request)}
    return render(request, "subscriptions/accounts.html", context)


def _callback_uri(request) -> str:
    return request.build_absolute_uri(reverse("subscriptions_callback"))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def connect(request, provider):
    """GET (a connect link opened directly, or a bookmark): a page saying what happens next,
    with the button that POSTs here. POST: off to the provider's consent screen. Only the POST
    starts a flow, so a link or a prefetch never replaces a sign-in already under way."""
    if request.method == "POST":
        try:
            url, state, verifier = services.start_connect(provider, _callback_uri(request))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("subscriptions_accounts")
        request.session[CONNECT_SESSION_KEY] = {"provider": provider, "state": state, "verifier": verifier}
        return redirect(url)
    try:
        chosen = get_provider(provider)
    except KeyError:
        raise Http404("No such provider.") from None
    context = {"provider": chosen, "callback_uri": _callback_uri(request)}
    return render(request, "subscriptions/connect.html", context)


def _callback_error(code: str, label: str) -> str:
    """What the user reads when the provider sent them back with an OAuth error instead of a code.
    The provider's own `error_description` is not shown: it is for developers, often in English
    only, and whatever a crafted link puts in it would appear on our page."""
    if code == "access_denied":
        return f"You declined to connect {label}, so nothing was connected. You can connect it whenever you like."
    if code in ("temporarily_unavailable", "server_error"):
        return f"{label} could not sign you in right now; nothing was connected. Try again in a few minutes."
    detail = f" ({code})" if OAUTH_ERROR_CODE.match(code) else ""
    return (f"{label} refused the sign-in request{detail}, so nothing was connected. This is a problem with how "
            "this server is set up at the provider: please tell whoever runs Harbor.")


@login_required
def callback(request):
    """The provider sends the browser back here with a code (or an error) and our state."""
    pending = request.session.pop(CONNECT_SESSION_KEY, None)  # single use, whatever happens
    try:
        label = get_provider(pending["provider"]).label if pending else "The provider"
    except KeyError:  # a provider removed from the registry while its sign-in was under way
        label, pending = "The provider", None
    if "error" in request.GET:
        # Said before "expired": a refusal is the user's answer even when our session entry is
        # gone (the consent screen left open in another tab, a second click on "Deny").
        messages.error(request, _callback_error(request.GET["error"], label))
        return redirect("subscriptions_accounts")
    if pending is None:
        messages.error(request, "This sign-in link has expired; connect again.")
        return redirect("subscriptions_accounts")
    try:
        account = services.complete_connect(
            request.user, pending["provider"], request.build_absolute_uri(), state=pending["state"],
            verifier=pending["verifier"], redirect_uri=_callback_uri(request),
        )
    except oauth.OAuth2Error as error:
        # A state mismatch lands here too: someone else's callback, or a replayed one.
        logger.warning("connect %s failed: %s", pending["provider"], error.error, extra={"user_id": request.user.pk})
        messages.error(request, f"{label} did not connect ({error.error}); try again.")
        return redirect("subscriptions_accounts")
    except DependencyError as error:
        logger.warning("connect %s failed: %s", pending["provider"], error, extra={"user_id": request.user.pk})
        messages.error(request, f"{label} is not answering right now; try again later.")
        return redirect("subscriptions_accounts")
    messages.success(request, f"Connected {label} account “{account.display_name}”.")
    return redirect("subscriptions_list")


@login_required
@require_POST
def disconnect(request, account_id):
    account = get_account(request.user, account_id)
    services.disconnect_account(account)
    messages.success(request, f"Disconnected {account}. Its tokens are erased; its feed stays.")
    return redirect("subscriptions_accounts")


@login_required
def subscription_list(request):
    accounts = list(accounts_for(request.user).filter(status=ProviderAccount.Status.ACTIVE))
    form = SubscriptionForm(accounts, request.POST or None)
    status = HTTPStatus.OK
    if request.method == "POST":
        status = HTTPStatus.BAD_REQUEST
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.add_subscription(data["account"], data["kind"], data["external_id"], data["title"])
            except ValidationError as error:
                form.add_error(None, error.messages)
            except Conflict as error:
                form.add_error(None, str(error))
                status = HTTPStatus.CONFLICT
            else:
                messages.success(request, "Subscribed.")
                return redirect("subscriptions_list")
    subscriptions = subscriptions_for(request.user).order_by("created_at", "id")
    schedule = getattr(request.user, "poll_schedule", None) if subscriptions else None
    context = {"subscriptions": subscriptions, "form": form, "accounts": accounts, "schedule": schedule}
    return render(request, "subscriptions/subscriptions.html", context, status=status)


@login_required
@require_POST
def toggle_subscription(request, subscription_id):
    subscription = get_subscription(request.user, subscription_id)
    services.set_subscription_enabled(subscription, not subscription.enabled)
    messages.success(request, f"{'Enabled' if subscription.enabled else 'Disabled'} “{subscription}”.")
    return redirect("subscriptions_list")


@login_required
@require_POST
def delete_subscription(request, subscription_id):
    subscription = get_subscription(request.user, subscription_id)
    services.delete_subscription(subscription)
    messages.success(request, f"Removed “{subscription}” and its items.")
    return redirect("subscriptions_list")


@login_required
@require_POST
def poll_now(request):
    services.poll_now(request.user)
    messages.success(request, "Your subscriptions will be polled at the next run.")
    return redirect("subscriptions_list")


@login_required
def feed(request):
    page = Paginator(feed_for(request.user), FEED_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "subscriptions/feed.html", {"page": page})
