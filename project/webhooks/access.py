"""The one access helper for endpoints: the tenant's owners and admins only; anything else 404
(a tenant that is not the caller's) or 403 (a member who does not manage it)."""

from django.http import Http404

from project.accounts.access import get_membership
from project.accounts.models import Membership

from .models import Delivery, Endpoint


def manage(user, tenant_id) -> Membership:
    return get_membership(user, tenant_id, roles=Membership.MANAGER_ROLES)


def get_endpoint(membership: Membership, endpoint_id) -> Endpoint:
    try:
        return Endpoint.objects.select_related("created_by").get(pk=str(endpoint_id), tenant_id=membership.tenant_id)
    except Endpoint.DoesNotExist:
        raise Http404 from None


def get_delivery(endpoint: Endpoint, delivery_id) -> Delivery:
    try:
        return Delivery.objects.select_related("endpoint").get(pk=int(delivery_id), endpoint=endpoint)
    except (Delivery.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
