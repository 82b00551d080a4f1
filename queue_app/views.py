"""The live stream page. It renders the stream itself (threaded, newest 100, newest at the
bottom) with the bots' presence, and its composer posts as an ordinary form; static/js/queue.js
adds the socket, polling fallback, posting without a reload and a poll of `bots/` that keeps
the "bot online / offline" indicator current."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from project.accounts.access import tenants_for

from . import services
from .api import OldestFirst
from .models import MAX_PRIORITY

PAGE_MESSAGES = 100
MAX_DEPTH = 4


class ComposerForm(forms.Form):
    text = forms.CharField(
        label="Message", max_length=settings.QUEUE_MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Write a message…"}),
        help_text="Enter sends; Shift+Enter starts a new line.",
    )
    username = forms.CharField(
        label="Post as", max_length=100, required=False,
        help_text="Shown with your message; default: your display name. Bots' names are reserved for bots.",
    )
    entity = forms.CharField(label="Entity", max_length=64, required=False,
                             help_text="Which bot persona should answer, e.g. duke (optional).")
    priority = forms.IntegerField(min_value=0, max_value=MAX_PRIORITY, initial=0,
                                  help_text=f"0-{MAX_PRIORITY}; higher is answered first.")
    reply_to = forms.CharField(max_length=10, required=False, widget=forms.HiddenInput)

    OPTIONS = ("username", "entity", "priority")

    def options(self):
        return [self[name] for name in self.OPTIONS]

    def options_have_errors(self) -> bool:
        return any(self[name].errors for name in self.OPTIONS)


def threaded(messages) -> list[tuple]:
    """(message, depth) in reading order: each reply right under what it answers, if that is on
    the page; deeper than MAX_DEPTH stays at MAX_DEPTH."""
    by_parent, on_page = {}, {m.pk for m in messages}
    for message in messages:
        parent = message.reply_to_id if message.reply_to_id in on_page else None
        by_parent.setdefault(parent, []).append(message)
    ordered = []

    def walk(parent, depth):
        for message in by_parent.get(parent, []):
            ordered.append((message, min(depth, MAX_DEPTH)))
            walk(message.pk, depth + 1)

    walk(None, 0)
    return ordered


@login_required
def stream_page(request):
    tenant_id = request.GET.get("tenant") or None
    try:
        tenant = services.stream_tenant(request.user, tenant_id)
    except services.NotFound:
        raise Http404("No such stream.") from None
    form = ComposerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.post_message(
                request.user, data["text"], username=data["username"], entity=data["entity"],
                priority=data["priority"], reply_to=data["reply_to"] or None, tenant_id=tenant_id,
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            return redirect(f"{reverse('queue_stream')}{'?tenant=' + tenant_id if tenant_id else ''}#composer")
    messages = services.list_messages(tenant, limit=PAGE_MESSAGES)
    context = {
        "bots": services.bot_presence(),
        # Nothing is gained by asking more often than bots write their heartbeats.
        "bots_poll_ms": int(settings.WORKER_HEARTBEAT_SECONDS * 1000),
        "tenant": tenant,
        "streams": tenants_for(request.user),
        "threads": threaded(messages),
        # Where queue.js polls from while its socket is down (GET /api/queue/messages?cursor=).
        "cursor": OldestFirst().cursor_after(messages[-1]) if messages else "",
        "form": form,
    }
    return render(request, "queue_app/stream.html", context, status=400 if form.errors else 200)


@never_cache
@login_required
@require_GET
def bot_presence(request):
    """`{"online", "bots"}` for the page's indicator (queue.js polls it): bots work every
    stream, so this is the same for all of them."""
    return JsonResponse(services.bot_presence())


# --- A tenant's own provider (owners) -------------------------------------------------------

class TenantProviderForm(forms.Form):
    provider = forms.ChoiceField(choices=[("openai", "OpenAI (or an OpenAI-compatible server)"),
                                          ("anthropic", "Anthropic"), ("ollama", "Ollama")])
    model = forms.CharField(max_length=100, help_text="e.g. gpt-4o-mini, claude-haiku-4-5, llama3.2")
    base_url = forms.CharField(label="Base URL", max_length=500, required=False,
                               help_text="Empty: the provider's own. OpenAI-compatible servers: with /v1.")
    api_key = forms.CharField(label="API key", max_length=500, required=False, strip=False,
                              widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                              help_text="Leave empty to keep the saved key.")


@login_required
@never_cache
def tenant_provider_page(request, tenant_id):
    """Provider settings of the tenant's stream: save (post/redirect/get), test, remove."""
    from django.contrib import messages
    from django.core.exceptions import PermissionDenied

    from project.accounts.access import get_membership
    from project.accounts.models import Membership

    from . import tenant_providers

    membership = get_membership(request.user, tenant_id)
    if membership.role != Membership.Role.OWNER:
        raise PermissionDenied("Only the tenant's owners set its provider.")
    saved = tenant_providers.get_settings(membership)
    initial = {"provider": saved.provider, "model": saved.model, "base_url": saved.base_url} if saved else {}
    form = TenantProviderForm(request.POST if request.method == "POST" and "save" in request.POST else None,
                              initial=initial)
    status, result = 200, None
    if request.method == "POST":
        if "remove" in request.POST:
            tenant_providers.remove_provider(membership)
            messages.success(request, "The stream is answered with the server's provider again.")
            return redirect("queue_tenant_provider", tenant_id=tenant_id)
        if "test" in request.POST:
            try:
                result = tenant_providers.test_connection(membership)
            except ValidationError as exc:
                result = {"ok": False, "reply": None, "error": " ".join(exc.messages)}
        elif form.is_valid():
            data = form.cleaned_data
            try:
                tenant_providers.set_provider(membership, provider=data["provider"], model=data["model"],
                                              base_url=data["base_url"], api_key=data["api_key"] or None)
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error("api_key" if field == "api_key_encrypted" else field, errors)
                status = 400
            else:
                messages.success(request, "Provider saved.")
                return redirect("queue_tenant_provider", tenant_id=tenant_id)
        else:
            status = 400
    return render(request, "queue_app/tenant_provider.html",
                  {"tenant": membership.tenant, "form": form, "saved": saved, "result": result}, status=status)
