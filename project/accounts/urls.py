from django.urls import path

from . import api, views

api_urlpatterns = [
    path("auth/token", api.TokenObtainView.as_view(), name="api-token"),
    path("auth/tokens", api.TokenListView.as_view(), name="api-token-list"),
    path("auth/tokens/<int:pk>", api.TokenRevokeView.as_view(), name="api-token-revoke"),
    path("ws-ticket", api.WsTicketView.as_view(), name="api-ws-ticket"),
    path("tenants", api.TenantListView.as_view(), name="api-tenants"),
    path("tenants/<str:tenant_id>/members", api.TenantMembersView.as_view(), name="api-tenant-members"),
    path("tenants/<str:tenant_id>/invitations", api.TenantInvitationsView.as_view(), name="api-tenant-invitations"),
    path(
        "tenants/<str:tenant_id>/invitations/<str:invitation_id>",
        api.TenantInvitationView.as_view(),
        name="api-tenant-invitation",
    ),
    path(
        "tenants/<str:tenant_id>/invitations/<str:invitation_id>/resend",
        api.TenantInvitationResendView.as_view(),
        name="api-tenant-invitation-resend",
    ),
    path("invitations", api.MyInvitationsView.as_view(), name="api-invitations"),
    path("invitations/<str:invitation_id>/accept", api.AcceptInvitationView.as_view(), name="api-invitation-accept"),
]

page_urlpatterns = [
    path("accounts/register/", views.register, name="register"),
    path("accounts/login/", views.HarborLoginView.as_view(), name="login"),
    path("accounts/logout/", views.HarborLogoutView.as_view(), name="logout"),
    path("accounts/password/", views.HarborPasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", views.HarborPasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/password/reset/", views.HarborPasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/done/", views.HarborPasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/password/reset/complete/", views.HarborPasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        views.HarborPasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/verify/resend/", views.resend_verification, name="resend_verification"),
    path("accounts/verify/<uidb64>/<token>/", views.verify_email, name="verify_email"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.revoke_token, name="token_revoke"),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/switch/", views.tenant_switch, name="tenant_switch"),
    path("tenants/<str:tenant_id>/", views.tenant_detail, name="tenant_detail"),
    path("tenants/<str:tenant_id>/members/remove/", views.tenant_member_remove, name="tenant_member_remove"),
    path("tenants/<str:tenant_id>/members/role/", views.tenant_member_role, name="tenant_member_role"),
    path(
        "tenants/<str:tenant_id>/invitations/<str:invitation_id>/resend/",
        views.tenant_invitation_action,
        {"action": "resend"},
        name="tenant_invitation_resend",
    ),
    path(
        "tenants/<str:tenant_id>/invitations/<str:invitation_id>/revoke/",
        views.tenant_invitation_action,
        {"action": "revoke"},
        name="tenant_invitation_revoke",
    ),
    path("invitations/<str:invitation_id>/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
]
