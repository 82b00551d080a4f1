from django.urls import path

from . import api, views

api_urlpatterns = [
    path("auth/token", api.TokenObtainView.as_view(), name="api-token"),
    path("auth/tokens", api.TokenListView.as_view(), name="api-token-list"),
    path("auth/tokens/<int:pk>", api.TokenRevokeView.as_view(), name="api-token-revoke"),
    path("ws-ticket", api.WsTicketView.as_view(), name="api-ws-ticket"),
    path("tenants", api.TenantListView.as_view(), name="api-tenants"),
    path("tenants/<str:tenant_id>/members", api.TenantMembersView.as_view(), name="api-tenant-members"),
]

page_urlpatterns = [
    path("accounts/register/", views.register, name="register"),
    path("accounts/login/", views.HarborLoginView.as_view(), name="login"),
    path("accounts/logout/", views.HarborLogoutView.as_view(), name="logout"),
    path("accounts/password/", views.HarborPasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", views.HarborPasswordChangeDoneView.as_view(), name="password_change_done"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke/", views.revoke_token, name="token_revoke"),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/switch/", views.tenant_switch, name="tenant_switch"),
    path("tenants/<str:tenant_id>/", views.tenant_detail, name="tenant_detail"),
    path("tenants/<str:tenant_id>/members/remove/", views.tenant_member_remove, name="tenant_member_remove"),
]
