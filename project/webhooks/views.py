"""The webhooks pages under a tenant's settings (`/tenants/<id>/webhooks/`): its owners and
admins register endpoints, see each one's delivery log, redeliver, send a test event, rotate
the secret, pause, resume and delete. The same services as the API."""

from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from project.accounts.services import Conflict

from . import services
from .access import get_delivery, get_endpoint, manage
from .forms import EndpointForm
from .models import Endpoint

#: The secret just made (create, rotate), between the POST and the one GET that shows it.
NEW_SECRET_SESSION_KEY = "webhooks.new_secret"


@login_required
def endpoint_list(request, tenant_id):
    membership = manage(request.user, tenant_id)
    form = EndpointForm(request.POST or None)
    status = HTTPStatus.OK
    if request.method == "POST":
        status = HTTPStatus.BAD_REQUEST
        if form.is_valid():
            try:
                endpoint, secret = services.create_endpoint(membership, **form.cleaned_data)
            except ValidationError as error:
                for name, problems in error.message_dict.items():
                    form.add_error(name if name in form.fields else None, problems)
            else:
                request.session[NEW_SECRET_SESSION_KEY] = {"id": endpoint.pk, "secret": secret}
                return redirect("webhook_detail", tenant_id=membership.tenant_id, endpoint_id=endpoint.pk)
    endpoints = Endpoint.objects.filter(tenant_id=membership.tenant_id)
    context = {"tenant": membership.tenant, "endpoints": endpoints, "form": form}
    return render(request, "webhooks/endpoint_list.html", context, status=status)


@login_required
def endpoint_detail(request, tenant_id, endpoint_id):
    membership = manage(request.user, tenant_id)
    endpoint = get_endpoint(membership, endpoint_id)
    fresh = request.session.pop(NEW_SECRET_SESSION_KEY, None)
    secret = fresh["secret"] if fresh and fresh["id"] == endpoint.pk else None
    context = {"tenant": membership.tenant, "endpoint": endpoint, "secret": secret,
               "deliveries": endpoint.deliveries.all()[:50]}
    return render(request, "webhooks/endpoint_detail.html", context)


@login_required
@require_POST
def endpoint_action(request, tenant_id, endpoint_id, action):
    membership = manage(request.user, tenant_id)
    endpoint = get_endpoint(membership, endpoint_id)
    back = redirect("webhook_detail", tenant_id=membership.tenant_id, endpoint_id=endpoint.pk)
    if action == "pause":
        services.update_endpoint(membership, endpoint, status=Endpoint.Status.PAUSED)
        messages.success(request, "Paused: nothing is sent until you resume it.")
    elif action == "resume":
        services.update_endpoint(membership, endpoint, status=Endpoint.Status.ACTIVE)
        messages.success(request, "Resumed: it continues from where it stopped.")
    elif action == "test":
        services.send_test_event(membership, endpoint)
        messages.success(request, "A test event is on its way; its delivery appears below.")
    elif action == "rotate":
        endpoint, secret = services.rotate_secret(membership, endpoint)
        request.session[NEW_SECRET_SESSION_KEY] = {"id": endpoint.pk, "secret": secret}
        messages.success(request, "New secret: the previous one keeps signing for a while.")
    elif action == "delete":
        services.delete_endpoint(membership, endpoint)
        messages.success(request, f"Deleted the endpoint {endpoint.url}.")
        return redirect("webhooks", tenant_id=membership.tenant_id)
    else:
        return render(request, "404.html", status=HTTPStatus.NOT_FOUND)
    return back


@login_required
@require_POST
def redeliver(request, tenant_id, endpoint_id, delivery_id):
    membership = manage(request.user, tenant_id)
    endpoint = get_endpoint(membership, endpoint_id)
    try:
        services.redeliver(membership, get_delivery(endpoint, delivery_id))
    except Conflict as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Queued again, with the same webhook-id.")
    return redirect("webhook_detail", tenant_id=membership.tenant_id, endpoint_id=endpoint.pk)
