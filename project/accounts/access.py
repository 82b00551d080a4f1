"""The one way to reach tenant-scoped data: filter by the caller's memberships, and answer 404
(never 403) for anything outside them, so that existence does not leak between tenants."""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from .models import Membership, Tenant


def scope_to_user(queryset: QuerySet, user, tenant_field: str = "tenant") -> QuerySet:
    """Rows of `queryset` whose tenant (reached through `tenant_field`) has `user` as a member."""
    if user is None or not user.is_authenticated:
        return queryset.none()
    tenants = Membership.objects.filter(user=user).values("tenant_id")
    lookup = "pk__in" if tenant_field == "self" else f"{tenant_field}__in"
    return queryset.filter(**{lookup: tenants})


def get_for_user(queryset: QuerySet, user, tenant_field: str = "tenant", **lookup):
    """One row of `queryset` that `user` may see, or Http404."""
    try:
        return scope_to_user(queryset, user, tenant_field).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404 from None
    except (ValueError, TypeError):  # a malformed id is as absent as a foreign one
        raise Http404 from None


def get_membership(user, tenant_id, roles=None) -> Membership:
    """The caller's membership of tenant `tenant_id`: Http404 if they are not a member,
    PermissionDenied if they are but their role is not in `roles`."""
    own = Membership.objects.select_related("tenant", "user").filter(user_id=getattr(user, "pk", None))
    membership = get_for_user(own, user, tenant_id=tenant_id)
    if roles is not None and membership.role not in roles:
        raise PermissionDenied("Your role in this tenant does not allow this.")
    return membership


def tenants_for(user) -> QuerySet[Tenant]:
    return scope_to_user(Tenant.objects.all(), user, tenant_field="self")
