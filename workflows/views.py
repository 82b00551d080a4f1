"""The workflow pages. Every form posts normally and redirects back (post/redirect/get); a
refused post re-renders the detail page with the error on its form and a 400/403/409 status.
The detail page's script only adds live updates on top."""

from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from notifications import services as notifications
from notifications.models import Kind, Notification
from project.accounts import invitations
from project.accounts.context_processors import CURRENT_TENANT_SESSION_KEY
from project.accounts.models import normalize_email
from project.accounts.services import Conflict
from project.realtime.models import Event

from . import reading, services, templates_service
from .access import get_workflow_access, templates_for, workflows_for
from .forms import (
    DeleteForm,
    DeleteMessageForm,
    MessageForm,
    ReadStateForm,
    ParticipantForm,
    RemoveParticipantForm,
    StatusForm,
    UploadForm,
    WorkflowFilterForm,
    WorkflowForm,
)
from .models import Message, Participant, Workflow, message_pk

WORKFLOWS_PER_PAGE = 25
#: The detail page shows the latest messages only; older ones are in the REST API.
MESSAGES_SHOWN = 100

#: What services raise when they refuse a valid-looking request.
REFUSALS = (ValidationError, PermissionDenied, Conflict, Participant.DoesNotExist, Message.DoesNotExist)

STATUS_DONE = {
    Workflow.Status.COMPLETED: "Completed",
    Workflow.Status.ACTIVE: "Reopened",
    Workflow.Status.CANCELLED: "Cancelled",
}


#: How many of the most recently active workflows the home page shows.
HOME_WORKFLOWS = 8
HOME_MENTIONS = 5


@login_required
def home(request):
    """What needs you: your most recently active workflows with their unread counts (live, as
    the list's), the mentions you have not read, and your tenants."""
    states = list(
        reading.read_states(request.user).select_related("workflow__tenant", "workflow__last_message__sender")[:HOME_WORKFLOWS]
    )
    for state in states:
        state.workflow.read_state = state
    unread = [state for state in states if state.unread_count and not state.muted]
    mentions = Notification.objects.filter(
        recipient=request.user, kind=Kind.WORKFLOW_MENTION, read_at__isnull=True
    ).order_by("-created_at", "-id")[:HOME_MENTIONS]
    context = {
        "workflows": [state.workflow for state in states],
        "total_unread": reading.total_unread(request.user),
        "unread_workflows": len(unread),
        "mentions": mentions,
        "memberships": request.user.memberships.select_related("tenant").order_by("tenant__name", "tenant_id"),
        "invitations": invitations.for_user(request.user),
    }
    return render(request, "workflows/home.html", context)


@login_required
def workflow_list(request):
    filters = WorkflowFilterForm(request.user, request.GET)
    filters.is_valid()  # invalid filters are left out of cleaned_data, i.e. not applied
    workflows = (
        workflows_for(request.user)
        .select_related("tenant", "last_message__sender")
        .order_by("-last_activity_at", "-id")
    )
    if wanted_status := filters.cleaned_data.get("status"):
        workflows = workflows.filter(status=wanted_status)
    if wanted_tenant := filters.cleaned_data.get("tenant"):
        workflows = workflows.filter(tenant=wanted_tenant)

    initial = {"tenant": request.session.get(CURRENT_TENANT_SESSION_KEY)}
    # "Start a workflow" from a template's page picks it here.
    if picked := templates_for(request.user).filter(pk=request.GET.get("template", "")).first():
        initial = {"tenant": picked.tenant_id, "template": picked.pk}
    form = WorkflowForm(request.user, request.POST or None, initial=initial)
    status = HTTPStatus.OK
    if request.method == "POST":
        status = HTTPStatus.BAD_REQUEST
        if form.is_valid():
            data = form.cleaned_data
            participants = [(email, Participant.Role.EDITOR) for email in data["participants"]]
            try:
                if data.get("template"):
                    workflow = templates_service.start_workflow(data["template"], request.user, data["title"], participants)
                else:
                    workflow = services.create_workflow(data["tenant"], request.user, data["title"], participants)
            except REFUSALS as error:
                # The service names a participant's address `email`; the form calls it `participants`.
                status = _show_refusal(form, error, field_names={"email": "participants"})
            else:
                messages.success(request, f"Created “{workflow.title}”.")
                return redirect("workflow_detail", workflow_id=workflow.pk)

    page = Paginator(workflows, WORKFLOWS_PER_PAGE).get_page(request.GET.get("page"))
    shown = [workflow.pk for workflow in page.object_list]
    states = {state.workflow_id: state for state in reading.read_states(request.user).filter(workflow_id__in=shown)}
    for workflow in page.object_list:
        workflow.read_state = states.get(workflow.pk)  # None: a manager's view, not a participant's
    context = {"filters": filters, "page": page, "form": form}
    return render(request, "workflows/workflow_list.html", context, status=status)


@login_required
def workflow_detail(request, workflow_id):
    return _render_detail(request, get_workflow_access(request.user, workflow_id))


def _detail_form_post(request, workflow_id, form_class, form_name, perform):
    """What every form on the detail page does: validate it, let `perform(access, data)` call
    the service and return the redirect, or show the page again with the form's errors."""
    access = get_workflow_access(request.user, workflow_id)
    form = form_class(request.POST, request.FILES)
    if not form.is_valid():
        return _render_detail(request, access, HTTPStatus.BAD_REQUEST, **{form_name: form})
    try:
        return perform(access, form.cleaned_data)
    except REFUSALS as error:
        return _render_detail(request, access, _show_refusal(form, error), **{form_name: form})


@login_required
@require_POST
def post_message(request, workflow_id):
    def perform(access, data):
        services.post_message(access, data["content"])
        return redirect(_detail_url(access.workflow, "composer"))

    return _detail_form_post(request, workflow_id, MessageForm, "message_form", perform)


@login_required
@require_POST
def edit_message(request, workflow_id, message_id):
    def perform(access, data):
        message = services.edit_message(access, message_id, data["content"])
        return redirect(_detail_url(access.workflow, f"m-{message.pk}"))

    return _detail_form_post(request, workflow_id, MessageForm, "message_form", perform)


@login_required
@require_POST
def delete_message(request, workflow_id, message_id):
    def perform(access, data):
        services.delete_message(access, message_id)
        return redirect(_detail_url(access.workflow, "messages"))

    return _detail_form_post(request, workflow_id, DeleteMessageForm, "message_form", perform)


@login_required
@require_POST
def change_read_state(request, workflow_id):
    def perform(access, data):
        if access.participant is None:
            raise PermissionDenied("Only participants mute or mark a workflow unread.")
        if data["unread_from"] is not None:
            reading.mark_unread_from(access, data["unread_from"])
            messages.success(request, f"“{access.workflow.title}” is unread from that message on.")
            return redirect("workflow_list")  # reopening the thread would read it again
        reading.update_read_state(access, muted=data["muted"])
        messages.success(request, f"{'Muted' if data['muted'] else 'Unmuted'} “{access.workflow.title}”.")
        return redirect(_detail_url(access.workflow))

    return _detail_form_post(request, workflow_id, ReadStateForm, "read_state_form", perform)


@login_required
@require_POST
def upload_file(request, workflow_id):
    def perform(access, data):
        services.share_file(access, data["file"])
        return redirect(_detail_url(access.workflow, "composer"))

    return _detail_form_post(request, workflow_id, UploadForm, "upload_form", perform)


@login_required
@require_POST
def add_participant(request, workflow_id):
    def perform(access, data):
        participant = services.add_participant(access, data["email"], data["role"])
        messages.success(request, f"Added {participant.user.email} as {participant.get_role_display().lower()}.")
        return redirect(_detail_url(access.workflow, "participants"))

    return _detail_form_post(request, workflow_id, ParticipantForm, "participant_form", perform)


@login_required
@require_POST
def remove_participant(request, workflow_id):
    def perform(access, data):
        services.remove_participant(access, data["email"])
        if normalize_email(data["email"]) == request.user.email:
            # They may no longer see the workflow at all.
            messages.success(request, f"You left “{access.workflow.title}”.")
            return redirect("workflow_list")
        messages.success(request, f"Removed {data['email']} from this workflow.")
        return redirect(_detail_url(access.workflow, "participants"))

    return _detail_form_post(request, workflow_id, RemoveParticipantForm, "remove_form", perform)


@login_required
@require_POST
def change_status(request, workflow_id):
    def perform(access, data):
        workflow = services.set_status(access, data["status"])
        messages.success(request, f"{STATUS_DONE[workflow.status]} “{workflow.title}”.")
        return redirect(_detail_url(workflow))

    return _detail_form_post(request, workflow_id, StatusForm, "status_form", perform)


@login_required
@require_POST
def delete_workflow(request, workflow_id):
    def perform(access, data):
        services.delete_workflow(access)
        messages.success(request, f"Deleted “{access.workflow.title}”.")
        return redirect("workflow_list")

    return _detail_form_post(request, workflow_id, DeleteForm, "delete_form", perform)


def _render_detail(request, access, status=HTTPStatus.OK, **forms):
    """The detail page; `forms` replaces the blank form of the action that was refused."""
    workflow = access.workflow
    # The cursor is read before the messages: a message posted in between is then both on the
    # page and replayed to the script (which skips ids it already shows) rather than in neither.
    last_cursor = (
        Event.objects.filter(group=workflow.group).order_by("-id").values_list("id", flat=True).first() or 0
    )
    before = message_pk(request.GET.get("before"))
    recent, has_earlier = _messages_before(workflow, before)
    # Reading back through history is not reading what is new.
    state = _read_on_opening(request, access, recent[0] if recent and before is None else None)
    read_before = state.last_read_message_id if state else None
    context = {
        # The "new messages" divider goes above the first message after the reader's cursor.
        "max_upload_bytes": settings.MEDIA_MAX_UPLOAD_BYTES,
        "has_earlier": has_earlier,
        "muted": bool(state and state.muted),
        "read_state_form": ReadStateForm(),
        "first_unread_id": next(
            (m.pk for m in reversed(recent) if m.pk > read_before and m.sender_id != request.user.pk), None
        ) if read_before is not None else None,
        "workflow": workflow,
        "access": access,
        "last_cursor": last_cursor,
        # Not `messages`: that name belongs to django.contrib.messages in base.html.
        "workflow_messages": recent[::-1],
        "participants": workflow.participants.select_related("user"),
        # For static/js/workflow.js: names for presence and typing, and whom "@" offers.
        "people": [{"name": p.user.get_full_name(), "email": p.user.email} for p in workflow.participants.select_related("user")],
        "history": workflow.history.select_related("performed_by"),
        "message_form": MessageForm(),
        "upload_form": UploadForm(),
        "participant_form": ParticipantForm(),
        "remove_form": RemoveParticipantForm(),
        "status_form": StatusForm(),
        "delete_form": DeleteForm(),
        **forms,
    }
    return render(request, "workflows/workflow_detail.html", context, status=status)


def _messages_before(workflow, before: int | None) -> tuple[list, bool]:
    """The MESSAGES_SHOWN messages before `before` (or the newest), newest first, and whether
    there are earlier ones still."""
    messages = workflow.messages.select_related("sender", "media_file").order_by("-id")
    if before is not None:
        messages = messages.filter(pk__lt=before)
    page = list(messages[: MESSAGES_SHOWN + 1])
    return page[:MESSAGES_SHOWN], len(page) > MESSAGES_SHOWN


@login_required
def earlier_messages(request, workflow_id):
    """The thread's scroll back: the messages before `?before=`, as the page's own list items
    (static/js/workflow.js puts them on top). `X-Earlier` names where to continue, if anywhere."""
    access = get_workflow_access(request.user, workflow_id)
    before = message_pk(request.GET.get("before"))
    if before is None:
        return HttpResponseBadRequest("`before` must be a message id.")
    page, has_earlier = _messages_before(access.workflow, before)
    response = render(request, "workflows/message_items.html", {"workflow": access.workflow, "access": access, "workflow_messages": page[::-1]})
    if has_earlier and page:
        response["X-Earlier"] = str(page[-1].pk)
    return response


def _read_on_opening(request, access, newest):
    """Opening a workflow reads it: the participant's cursor moves to the newest message (every
    tab and device hears of it). Returns the read state as it was (for the "new messages"
    divider and the mute switch); None for a reader who takes no part (a tenant manager)."""
    if access.participant is None:
        return None
    state = reading.read_state(access)
    if request.method == "GET":
        if newest is not None and newest.pk > state.last_read_message_id:
            reading.update_read_state(access, last_read_message_id=newest.pk)
        else:  # nothing new, but the bell may still say "added you"
            notifications.mark_workflow_read(request.user, access.workflow.pk)
    return state


def _show_refusal(form, error, field_names=None) -> HTTPStatus:
    """Put a service's refusal on `form`; return the status the page answers with."""
    if isinstance(error, ValidationError):
        by_field = error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.error_list}
        for field, errors in by_field.items():
            field = (field_names or {}).get(field, field)
            form.add_error(field if field in form.fields else None, errors)
        return HTTPStatus.BAD_REQUEST
    form.add_error(None, str(error))
    if isinstance(error, PermissionDenied):
        return HTTPStatus.FORBIDDEN
    if isinstance(error, Conflict):
        return HTTPStatus.CONFLICT
    if isinstance(error, Message.DoesNotExist):
        return HTTPStatus.NOT_FOUND  # another workflow's, or deleted
    return HTTPStatus.BAD_REQUEST  # Participant.DoesNotExist: the address names no participant


def _detail_url(workflow, fragment="") -> str:
    url = reverse("workflow_detail", kwargs={"workflow_id": workflow.pk})
    return f"{url}#{fragment}" if fragment else url
