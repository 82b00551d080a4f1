from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.conf import settings
from django.contrib.auth.views import (
    LoginView,
    LogoutView,
    PasswordChangeDoneView,
    PasswordChangeView,
    PasswordResetCompleteView,
    PasswordResetConfirmView,
    PasswordResetDoneView,
    PasswordResetView,
)
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.encoding import force_str
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from project.mail.services import site_url

from . import lockout, services
from .access import get_membership
from .context_processors import CURRENT_TENANT_SESSION_KEY
from . import invitations
from .forms import DUPLICATE_EMAIL, ApiTokenForm, InvitationSignUpForm, InviteForm, LoginForm, RegisterForm, TenantForm
from .models import ApiToken, Invitation, Membership, User, normalize_email
from .tokens import email_verification_token


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
            services.send_email_verification(user, site_url(request))
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
        # The session's sockets are closed by services.session_logged_out, as for every logout.
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You have been logged out.")
        return response


class HarborPasswordChangeView(PasswordChangeView):
    template_name = "accounts/password_change.html"


class HarborPasswordChangeDoneView(PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class HarborPasswordResetView(PasswordResetView):
    """Django's reset request, answered the same whether or not the address has an account, and
    limited per address and client like sign-in (lockout.PASSWORD_RESET)."""

    template_name = "accounts/password_reset_form.html"
    subject_template_name = "email/password_reset_subject.txt"
    email_template_name = "email/password_reset.txt"
    html_email_template_name = "email/password_reset.html"

    def form_valid(self, form):
        email, client = form.cleaned_data["email"], lockout.client_address(self.request)
        if lockout.is_locked_out(email, client, lockout.PASSWORD_RESET):
            form.add_error("email", lockout.locked_out_message(email, client, lockout.PASSWORD_RESET))
            response = self.form_invalid(form)
            response.status_code = HTTPStatus.TOO_MANY_REQUESTS
            return response
        lockout.record_failure(email, client, lockout.PASSWORD_RESET)
        self.extra_email_context = {"timeout_days": settings.PASSWORD_RESET_TIMEOUT // 86400}
        return super().form_valid(form)


class HarborPasswordResetDoneView(PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class HarborPasswordResetConfirmView(PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        # A new password ends a lockout of this address from here, and proves the mailbox.
        lockout.clear_failures(self.user.email, lockout.client_address(self.request))
        services.verify_email(self.user)
        return response


class HarborPasswordResetCompleteView(PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@never_cache
def verify_email(request, uidb64, token):
    """The link of the verification email: a page with a button (mail scanners that open links
    must not verify anyone), and the POST that verifies. Works signed in or not."""
    try:
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(uidb64)))
    except (ValueError, OverflowError, User.DoesNotExist):
        user = None
    valid = user is not None and email_verification_token.check_token(user, token)
    if valid and request.method == "POST":
        services.verify_email(user)
        messages.success(request, f"Thank you: {user.email} is confirmed.")
        return redirect("home" if request.user.is_authenticated else "login")
    verified = user is not None and user.email_verified_at is not None
    status = HTTPStatus.OK if valid or verified else HTTPStatus.BAD_REQUEST
    return render(request, "accounts/verify_email.html", {"valid": valid, "verified": verified, "user_email": user and user.email}, status=status)


@login_required
@require_POST
def resend_verification(request):
    user, client = request.user, lockout.client_address(request)
    if user.email_verified_at is not None:
        messages.info(request, f"{user.email} is already confirmed.")
    elif lockout.is_locked_out(user.email, client, lockout.VERIFICATION):
        messages.error(request, lockout.locked_out_message(user.email, client, lockout.VERIFICATION))
    else:
        lockout.record_failure(user.email, client, lockout.VERIFICATION)
        services.send_email_verification(user, site_url(request))
        messages.success(request, f"We sent a new link to {user.email}.")
    next_url = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return redirect(next_url if safe else "home")


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
    form = InviteForm(request.POST or None)
    status = HTTPStatus.OK
    if request.method == "POST":
        status = HTTPStatus.BAD_REQUEST
        if form.is_valid():
            email = form.cleaned_data["email"]
            try:
                invitations.invite(actor.tenant, actor, email, form.cleaned_data["role"], site_url(request))
            except services.Conflict as error:
                form.add_error("email", str(error))
                status = HTTPStatus.CONFLICT
            except PermissionDenied as error:
                form.add_error(None, str(error))
                status = HTTPStatus.FORBIDDEN
            else:
                # The same answer whether or not the address has an account.
                messages.success(request, f"Invitation sent to {normalize_email(email)}.")
                return redirect("tenant_detail", tenant_id=actor.tenant_id)
    members = list(actor.tenant.memberships.select_related("user").order_by("user__email"))
    # The page offers only what it will not refuse: the only owner can neither leave nor be demoted.
    sole_owner = [m for m in members if m.role == Membership.Role.OWNER]
    for member in members:
        member.is_sole_owner = len(sole_owner) == 1 and member is sole_owner[0]
    context = {
        "membership": actor,
        "tenant": actor.tenant,
        "members": members,
        "roles": Membership.Role.choices,
        "form": form,
        "invitations": invitations.open_invitations(actor.tenant) if actor.can_manage_members else [],
    }
    return render(request, "accounts/tenant_detail.html", context, status=status)


@login_required
@require_POST
def tenant_invitation_action(request, tenant_id, invitation_id, action):
    actor = get_membership(request.user, tenant_id)
    invitation = get_object_or_404(Invitation, pk=invitation_id, tenant=actor.tenant)
    try:
        if action == "resend":
            invitations.resend(invitation, actor, site_url(request))
            messages.success(request, f"Sent a new invitation to {invitation.email}; the previous link no longer works.")
        else:
            invitations.revoke(invitation, actor)
            messages.success(request, f"Revoked the invitation of {invitation.email}.")
    except PermissionDenied as error:
        messages.error(request, str(error))
    except invitations.InvitationClosed as closed:
        messages.error(request, f"That invitation was already {closed.reason}.")
    return redirect("tenant_detail", tenant_id=actor.tenant_id)


@never_cache
def invitation(request, token):
    """The emailed link: join as the signed-in user, sign in first, or sign up through it."""
    try:
        found = invitations.for_token(token)
    except Invitation.DoesNotExist:
        found = None
    if found is None:
        return render(request, "accounts/invitation.html", {"invitation": None}, status=HTTPStatus.NOT_FOUND)
    try:
        return _invitation_page(request, found, token)
    except invitations.InvitationClosed as closed:
        context = {"invitation": found, "reason": closed.reason, "ttl_days": settings.INVITATION_TTL_DAYS}
        return render(request, "accounts/invitation.html", context, status=HTTPStatus.GONE)


def _invitation_page(request, found: Invitation, token: str):
    if not found.is_pending:
        raise invitations.InvitationClosed(found.state)
    user = request.user
    signup = None
    status = HTTPStatus.OK
    if request.method == "POST":
        if user.is_authenticated:
            try:
                invitations.accept(found, user, from_link=True)
            except PermissionDenied as error:
                messages.error(request, str(error))
                return redirect("invitation", token=token)
            messages.success(request, f"Welcome to {found.tenant.name}.")
            return redirect("tenant_detail", tenant_id=found.tenant_id)
        signup = InvitationSignUpForm(found.email, request.POST)
        if signup.is_valid():
            try:
                new_user, _ = invitations.sign_up_and_accept(
                    found, signup.cleaned_data["password1"], signup.cleaned_data["display_name"]
                )
            except IntegrityError:  # the address has an account: sign in to accept
                signup.add_error(None, f"{found.email} already has a Harbor account: log in to accept.")
                status = HTTPStatus.CONFLICT
            else:
                login(request, new_user, backend="project.accounts.backends.LockoutModelBackend")
                messages.success(request, f"Welcome to Harbor and to {found.tenant.name}.")
                return redirect("tenant_detail", tenant_id=found.tenant_id)
        else:
            status = HTTPStatus.BAD_REQUEST
    elif not user.is_authenticated:
        signup = InvitationSignUpForm(found.email)
    context = {"invitation": found, "signup": signup, "wrong_account": user.is_authenticated and user.email != found.email}
    return render(request, "accounts/invitation.html", context, status=status)


@login_required
@require_POST
def invitation_accept(request, invitation_id):
    """Accepting from the home page: for the signed-in user's verified address only."""
    found = get_object_or_404(invitations.for_user(request.user), pk=invitation_id)
    try:
        invitations.accept(found, request.user, from_link=False)
    except (PermissionDenied, invitations.InvitationClosed) as error:
        messages.error(request, str(error) if isinstance(error, PermissionDenied) else f"That invitation was {error.reason}.")
        return redirect("home")
    messages.success(request, f"Welcome to {found.tenant.name}.")
    return redirect("tenant_detail", tenant_id=found.tenant_id)


@login_required
@require_POST
def tenant_member_role(request, tenant_id):
    actor = get_membership(request.user, tenant_id)
    email, role = normalize_email(request.POST.get("email", "")), request.POST.get("role", "")
    if role not in Membership.Role.values:
        messages.error(request, f"Choose a role: {', '.join(Membership.Role.labels)}.")
    else:
        try:
            member = services.change_role(actor.tenant, actor, email, role)
        except (Membership.DoesNotExist, PermissionDenied, services.Conflict) as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"{member.user.email} is now {member.get_role_display().lower()}.")
    return redirect("tenant_detail", tenant_id=actor.tenant_id)


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
