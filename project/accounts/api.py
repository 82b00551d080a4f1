from datetime import timedelta

from django.contrib.auth import authenticate
from django.db.models import F, OuterRef, Subquery
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from project.api import CursorPagination
from project.mail.services import site_url

from . import examples, invitations, lockout, services
from .access import get_membership, tenants_for
from .models import ApiToken, Invitation, Membership
from .serializers import (
    ApiTokenSerializer,
    ChangeRoleSerializer,
    InvitationSerializer,
    InviteSerializer,
    IssuedTokenSerializer,
    MembershipSerializer,
    RemoveMemberSerializer,
    TenantSerializer,
    TokenRequestSerializer,
    WsTicketSerializer,
)


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")


class ByEmail(CursorPagination):
    """`email` is annotated by the view: a cursor position is read off the row itself."""

    ordering = ("email",)


class TokenObtainView(APIView):
    """Exchange email and password for a bearer token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_scope = "auth"

    @extend_schema(request=TokenRequestSerializer, responses={201: IssuedTokenSerializer}, auth=[], examples=examples.ISSUE_TOKEN)
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email, password = serializer.validated_data["email"], serializer.validated_data["password"]
        # The backend enforces the lockout and counts failures; checking first says why.
        client = lockout.client_address(request)
        if lockout.is_locked_out(email, client):
            locked = exceptions.Throttled(detail=lockout.locked_out_message(email, client))
            locked.wait = lockout.seconds_left(email, client)  # Retry-After; the message says it in words
            raise locked
        user = authenticate(request, email=email, password=password)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid email or password.")
        days = serializer.validated_data.get("expires_in_days")
        token, raw = services.issue_api_token(
            user, serializer.validated_data["name"], timedelta(days=days) if days else None
        )
        token.token = raw
        return Response(IssuedTokenSerializer(token).data, status=status.HTTP_201_CREATED)

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class TokenListView(generics.ListAPIView):
    """The caller's tokens (never the secrets)."""

    serializer_class = ApiTokenSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user)


class TokenRevokeView(generics.GenericAPIView):
    serializer_class = ApiTokenSerializer

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user)

    @extend_schema(responses={200: ApiTokenSerializer})
    def delete(self, request, pk):
        token = self.get_object()
        services.revoke_api_token(token)
        return Response(ApiTokenSerializer(token).data)


class WsTicketView(APIView):
    """A single-use ticket for opening one WebSocket with `?ticket=`."""

    @extend_schema(request=None, responses={201: WsTicketSerializer})
    def post(self, request):
        token = request.auth if isinstance(request.auth, ApiToken) else None
        # A ticket asked for by a browser session lives only as long as that session.
        session_key = "" if token else request.session.session_key or ""
        ticket, raw = services.issue_ws_ticket(request.user, token, session_key)
        return Response({"ticket": raw, "expires_at": ticket.expires_at}, status=status.HTTP_201_CREATED)


class TenantListView(generics.ListCreateAPIView):
    """The tenants the caller belongs to, with their role; POST creates one they own."""

    serializer_class = TenantSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        role = Membership.objects.filter(tenant=OuterRef("pk"), user=self.request.user).values("role")
        return tenants_for(self.request.user).annotate(caller_role=Subquery(role))

    def perform_create(self, serializer):
        tenant = services.create_tenant(self.request.user, serializer.validated_data["name"])
        tenant.caller_role = Membership.Role.OWNER
        serializer.instance = tenant


class TenantMembersView(generics.ListAPIView):
    """The tenant's members by email; PATCH changes one's role (owners), DELETE removes one (or
    leaves). People join by accepting an invitation (`/api/tenants/{tenant_id}/invitations`)."""

    serializer_class = MembershipSerializer
    pagination_class = ByEmail

    def get_queryset(self):
        membership = get_membership(self.request.user, self.kwargs["tenant_id"])
        return Membership.objects.filter(tenant=membership.tenant).select_related("user").annotate(email=F("user__email"))

    @extend_schema(request=ChangeRoleSerializer, responses={200: MembershipSerializer})
    def patch(self, request, tenant_id):
        actor = get_membership(request.user, tenant_id)
        serializer = ChangeRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.change_role(actor.tenant, actor, **serializer.validated_data)
        return Response(MembershipSerializer(membership).data)

    @extend_schema(
        request=RemoveMemberSerializer,
        parameters=[OpenApiParameter("email", str, description="Alternative to the body")],
        responses={204: None},
    )
    def delete(self, request, tenant_id):
        actor = get_membership(request.user, tenant_id)
        data = request.data if request.data else {"email": request.query_params.get("email")}
        serializer = RemoveMemberSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        services.remove_member(actor.tenant, actor, serializer.validated_data["email"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class TenantInvitationsView(generics.ListAPIView):
    """The tenant's open invitations (owners and admins); POST invites an address. The answer is
    the same whether or not the address has a Harbor account."""

    serializer_class = InvitationSerializer
    pagination_class = NewestFirst

    def manager(self):
        actor = get_membership(self.request.user, self.kwargs["tenant_id"])
        services.require_manager(actor)
        return actor

    def get_queryset(self):
        return invitations.open_invitations(self.manager().tenant).select_related("tenant")

    @extend_schema(request=InviteSerializer, responses={201: InvitationSerializer})
    def post(self, request, tenant_id):
        actor = get_membership(request.user, tenant_id)
        serializer = InviteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = invitations.invite(actor.tenant, actor, **serializer.validated_data, site_url=site_url(request))
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationLookup(APIView):
    def invitation(self, request, tenant_id, invitation_id) -> tuple[Membership, Invitation]:
        actor = get_membership(request.user, tenant_id)
        services.require_manager(actor)
        found = Invitation.objects.filter(pk=invitation_id, tenant=actor.tenant).select_related("tenant").first()
        if found is None:
            raise exceptions.NotFound("No such invitation.")
        return actor, found


class TenantInvitationView(InvitationLookup):
    @extend_schema(request=None, responses={200: InvitationSerializer})
    def delete(self, request, tenant_id, invitation_id):
        """Revoke: the link stops working (an accepted invitation stays accepted)."""
        actor, found = self.invitation(request, tenant_id, invitation_id)
        invitations.revoke(found, actor)
        return Response(InvitationSerializer(found).data)


class TenantInvitationResendView(InvitationLookup):  # POST only: a DELETE here is no revocation
    @extend_schema(request=None, responses={200: InvitationSerializer})
    def post(self, request, tenant_id, invitation_id):
        """A new link by email, a new expiry; the previous link stops working."""
        actor, found = self.invitation(request, tenant_id, invitation_id)
        try:
            invitations.resend(found, actor, site_url(request))
        except invitations.InvitationClosed as closed:
            raise services.Conflict(f"The invitation was {closed.reason}.") from None
        return Response(InvitationSerializer(found).data)


class MyInvitationsView(generics.ListAPIView):
    """Pending invitations to the caller's address, once it is verified."""

    serializer_class = InvitationSerializer
    pagination_class = NewestFirst

    def get_queryset(self):
        return invitations.for_user(self.request.user)


class AcceptInvitationView(APIView):
    @extend_schema(request=None, responses={201: MembershipSerializer})
    def post(self, request, invitation_id):
        """Join the tenant of one of the caller's pending invitations."""
        found = invitations.for_user(request.user).filter(pk=invitation_id).first()
        if found is None:
            raise exceptions.NotFound("No such invitation for your address (is it verified?).")
        try:
            membership = invitations.accept(found, request.user, from_link=False)
        except invitations.InvitationClosed as closed:
            raise services.Conflict(f"The invitation was {closed.reason}.") from None
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

