"""The workflow templates pages of a tenant: every member sees them (and starts a workflow from
one on the workflow list), owners and admins create, edit and delete them."""

from http import HTTPStatus

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from project.accounts.access import get_membership
from project.accounts.models import Membership

from . import templates_service
from .access import get_template, templates_for
from .forms import TemplateForm
from .views import REFUSALS, _show_refusal


@login_required
def template_list(request, tenant_id):
    membership = get_membership(request.user, tenant_id)
    form = TemplateForm(request.POST or None)
    status = HTTPStatus.OK
    if request.method == "POST":
        _require_manager(membership)
        status = HTTPStatus.BAD_REQUEST
        if form.is_valid():
            try:
                template = templates_service.create_template(membership, **form.cleaned_data)
            except REFUSALS as error:
                status = _show_refusal(form, error)
            else:
                messages.success(request, f"Created the template “{template.name}”.")
                return redirect("workflow_templates", tenant_id=membership.tenant_id)
    templates = templates_for(request.user).filter(tenant_id=membership.tenant_id)
    context = {"membership": membership, "tenant": membership.tenant, "templates": templates, "form": form}
    return render(request, "workflows/template_list.html", context, status=status)


@login_required
def template_edit(request, tenant_id, template_id):
    membership = get_membership(request.user, tenant_id)
    _require_manager(membership)
    template = get_template(request.user, template_id, membership.tenant_id)
    form = TemplateForm(request.POST or None, initial=TemplateForm.initial_for(template))
    status = HTTPStatus.OK
    if request.method == "POST":
        status = HTTPStatus.BAD_REQUEST
        if form.is_valid():
            try:
                templates_service.update_template(membership, template, **form.cleaned_data)
            except REFUSALS as error:
                status = _show_refusal(form, error)
            else:
                messages.success(request, f"Saved the template “{template.name}”.")
                return redirect("workflow_templates", tenant_id=membership.tenant_id)
    context = {"membership": membership, "tenant": membership.tenant, "template": template, "form": form}
    return render(request, "workflows/template_edit.html", context, status=status)


@login_required
@require_POST
def template_delete(request, tenant_id, template_id):
    membership = get_membership(request.user, tenant_id)
    _require_manager(membership)
    template = get_template(request.user, template_id, membership.tenant_id)
    templates_service.delete_template(membership, template)
    messages.success(request, f"Deleted the template “{template.name}”.")
    return redirect("workflow_templates", tenant_id=membership.tenant_id)


def _require_manager(membership: Membership) -> None:
    if not membership.can_manage_members:
        raise PermissionDenied("Only the tenant's owners and admins manage workflow templates.")
