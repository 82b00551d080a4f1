from .access import tenants_for

#: The session key holding the id of the tenant chosen in the tenant switcher.
CURRENT_TENANT_SESSION_KEY = "current_tenant_id"


def tenants(request):
    """The signed-in user's tenants for the tenant switcher, and the current one: the tenant
    chosen last if the user is still a member of it, else their first."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    user_tenants = list(tenants_for(user))
    chosen_id = request.session.get(CURRENT_TENANT_SESSION_KEY)
    current_tenant = next(
        (tenant for tenant in user_tenants if tenant.pk == chosen_id),
        user_tenants[0] if user_tenants else None,
    )
    return {"user_tenants": user_tenants, "current_tenant": current_tenant}
