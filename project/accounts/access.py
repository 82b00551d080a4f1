"""The one way to reach tenant-scoped data: filter by the caller's memberships, and answer 404
(never 403) for anything outside them, so that existence does not leak between tenants."""

import json

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from project.sql import Columns, prepared_cursor

from .models import ApiToken, Membership, Tenant, User


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


_TOKEN = {}


def _permissions_sql(quote) -> str:
    """The user's permissions as ModelBackend names them ("app_label.codename"), given to them or
    to one of their groups, as a JSON array: a column of the token statement."""
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    name = f"ct.{quote('app_label')} || '.' || p.{quote('codename')}"
    aggregate = f"json_agg({name})::text" if connection.vendor == "postgresql" else f"json_group_array({name})"
    user_permissions = User.user_permissions.through._meta
    user_groups, group_permissions = User.groups.through._meta, Group.permissions.through._meta
    return (
        f"(SELECT {aggregate} FROM {quote(Permission._meta.db_table)} p "
        f"JOIN {quote(ContentType._meta.db_table)} ct ON ct.{quote('id')} = p.{quote('content_type_id')} "
        f"WHERE p.{quote('id')} IN (SELECT up.{quote('permission_id')} FROM {quote(user_permissions.db_table)} up "
        f"WHERE up.{quote('user_id')} = u.{quote('id')} "
        f"UNION SELECT gp.{quote('permission_id')} FROM {quote(user_groups.db_table)} ug "
        f"JOIN {quote(group_permissions.db_table)} gp ON gp.{quote('group_id')} = ug.{quote('group_id')} "
        f"WHERE ug.{quote('user_id')} = u.{quote('id')}))"
    )


def usable_token(key_hash: str, now) -> ApiToken | None:
    """The API token whose SHA-256 is `key_hash`, not revoked, not expired, of an active user
    (cached on it), or None. Runs on every API request: one statement written once (project.sql)
    instead of a queryset composed per request; exact, so a revoked token is refused at once.

    The same statement reads the user's permissions into the cache ModelBackend keeps on a user
    (`_perm_cache`, what `has_perm` reads): the queue's bot check on every claim and completion
    reads no row of its own. A superuser's are left to ModelBackend (all of them)."""
    if "sql" not in _TOKEN:
        quote = connection.ops.quote_name
        _TOKEN["columns"] = token, user = Columns(ApiToken, "k"), Columns(User, "u")
        _TOKEN["sql"] = (
            f"SELECT {token.sql}, {user.sql}, {_permissions_sql(quote)} FROM {quote(ApiToken._meta.db_table)} k "
            f"JOIN {quote(User._meta.db_table)} u ON u.{quote('id')} = k.{quote('user_id')} "
            f"WHERE k.{quote('key_hash')} = %s AND k.{quote('revoked_at')} IS NULL "
            f"AND (k.{quote('expires_at')} IS NULL OR k.{quote('expires_at')} > %s) AND u.{quote('is_active')}"
        )
    token_columns, user_columns = _TOKEN["columns"]
    with prepared_cursor() as cursor:
        cursor.execute(_TOKEN["sql"], [key_hash, now])
        row = cursor.fetchone()
    if row is None:
        return None
    token = token_columns.load(row[: token_columns.width])
    token.user = user = user_columns.load(row[token_columns.width : -1])
    if not user.is_superuser:
        user._perm_cache = set(json.loads(row[-1] or "[]"))
    return token
