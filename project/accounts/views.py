from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView, PasswordChangeDoneView, PasswordChangeView
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import services
from .access import get_membership
from .context_processors import CURRENT_TENANT_SESSION_KEY
from .forms import DUPLICATE_EMAIL, AddMemberForm, ApiTokenForm, LoginForm, RegisterForm, TenantForm
from .models import ApiToken, Membership, normalize_email


def register(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.register_user(
                form.cleaned_data["email"], form.cleaned_data["password1"], form.cleaned_data["display_name"]
            )
        except IntegrityError:  # another sign-up took the address after the form checked it
            form.add_error("email", DUPLICATE_EMAIL)
        else:
            login(request, user, backend="project.accounts.backends.LockoutModelBackend")
            return redirect("home")
    return render(request, "accounts/register.html", {"form": form})


class HarborLoginView(LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.is_locked_out:
            response.status_code = HTTPStatus.TOO_MANY_REQUESTS
        return response


class HarborLogoutView(LogoutView):
    def post(self, request, *args, **kwargs):
        # Read the key before logging out, which forgets it; tell the sockets after, so that
        # the session they check again is already gone.
        session_key = request.session.session_key
        response = super().post(request, *args, **kwargs)
        if session_key:
            services.end_session_sockets(session_key)
        return response


class HarborPasswordChangeView(PasswordChangeView):
    template_name = "accounts/password_change.html"


class HarborPasswordChangeDoneView(PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


#: The secret of a token just created, between the POST that made it and the one GET that shows it.
NEW_TOKEN_SESSION_KEY = "accounts.new_api_token"


# Post/redirect/get: the POST mints the token and redirects, so reloading the page shows the
# list instead of minting another. The secret waits in the session for the redirect's GET,
# which removes it (Harbor keeps only the hash); never_cache keeps the page that shows it out
# of browser and proxy caches, and Back does not bring it back.
@never_cache
@login_required
def tokens(request):
    form = ApiTokenForm(request.POST or None)
    status = HTTPStatus.OK
    if request.method == "POST":
        if form.is_valid():
            token, raw = services.issue_api_token(request.user, form.cleaned_data["name"], form.expires_in())
            request.session[NEW_TOKEN_SESSION_KEY] = {"id": token.pk, "secret": raw}
            return redirect("tokens")
        status = HTTPStatus.BAD_REQUEST
    api_tokens = list(request.user.api_tokens.all())
    new_token = None
    if fresh := request.session.pop(NEW_TOKEN_SESSION_KEY, None):
        # Only while it is still there and usable: revoked from another tab, it is not news.
        new_token = next((t for t in api_tokens if t.pk == fresh["id"] and t.is_usable()), None)
        if new_token is not None:
            new_token.secret = fresh["secret"]
    context = {"form": form, "new_token": new_token, "api_tokens": api_tokens}
    return render(request, "accounts/tokens.html", context, status=status)


@login_required
@require_POST
def revoke_token(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    services.revoke_api_token(token)
    messages.success(request, f"Revoked the token “{token.name}”.")
    return redirect("tokens")


@login_required
def tenant_create(request):
    form = TenantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tenant = services.create_tenant(request.user, form.cleaned_data["name"])
        messages.success(request, f"Created {tenant.name}.")
        return redirect("tenant_detail", tenant_id=tenant.pk)
    return render(request, "accounts/tenant_create.html", {"form": form})


@login_required
@require_POST
def tenant_switch(request):
    membership = get_membership(request.user, request.POST.get("tenant_id", ""))
    request.session[CURRENT_TENANT_SESSION_KEY] = membership.tenant_id
    next_url = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(next_url if safe else "home")


@login_required
def tenant_detail(request, tenant_id):
    actor = get_membership(request.user, tenant_id)
    form = AddMemberForm(request.POST or None)
    status = HTTPStatus.OK
    if request.method == "POST":
        status = HTTPStatus.BAD_REQUEST
        if form.is_valid():
            try:
                member = services.add_member(
                    actor.tenant, actor, form.cleaned_data["email"], form.cleaned_data["role"]
                )
            except ValidationError as error:
                form.add_error(None, error)
            except services.Conflict as error:
                form.add_error("email", str(error))
                status = HTTPStatus.CONFLICT
            except PermissionDenied as error:
                form.add_error(None, str(error))
                status = HTTPStatus.FORBIDDEN
            else:
                messages.success(request, f"Added {member.user.email} as {member.get_role_display().lower()}.")
                return redirect("tenant_detail", tenant_id=actor.tenant_id)
    members = actor.tenant.memberships.select_related("user").order_by("user__email")
    context = {"membership": actor, "tenant": actor.tenant, "members": members, "form": form}
    return render(request, "accounts/tenant_detail.html", context, status=status)


@login_required
@require_POST
def tenant_member_remove(request, tenant_id):
    actor = get_membership(request.user, tenant_id)
    email = normalize_email(request.POST.get("email", ""))
    try:
        services.remove_member(actor.tenant, actor, email)
    except (Membership.DoesNotExist, PermissionDenied, services.Conflict) as error:
        messages.error(request, str(error))
        return redirect("tenant_detail", tenant_id=actor.tenant_id)
    if email == request.user.email:
        messages.success(request, f"You left {actor.tenant.name}.")
        return redirect("home")
    messages.success(request, f"Removed {email} from {actor.tenant.name}.")
    return redirect("tenant_detail", tenant_id=actor.tenant_id)
