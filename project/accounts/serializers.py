from rest_framework import serializers

from project.serializers import StrictInput, StrictSerializer

from .models import ApiToken, Invitation, Membership, Tenant


class TokenRequestSerializer(StrictSerializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="api")
    expires_in_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True)


class ApiTokenSerializer(serializers.ModelSerializer):
    id = serializers.CharField(read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class IssuedTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="The bearer token. Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields


class WsTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="Pass as ?ticket= when opening one WebSocket.")
    expires_at = serializers.DateTimeField()


class TenantSerializer(StrictInput, serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["id", "name", "role", "created_at"]
        read_only_fields = ["id", "role", "created_at"]

    def get_role(self, tenant) -> str | None:
        return getattr(tenant, "caller_role", None)


class MembershipSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    display_name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["email", "display_name", "role", "created_at"]
        read_only_fields = fields


class InviteSerializer(StrictSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.MEMBER)


class InvitationSerializer(serializers.ModelSerializer):
    """An invitation as its tenant's managers and its invitee see it (never the link's secret)."""

    tenant_id = serializers.CharField(read_only=True)
    tenant_name = serializers.CharField(source="tenant.name", read_only=True)
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, allow_null=True, default=None)
    state = serializers.ChoiceField(choices=Invitation.STATES, read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "tenant_id", "tenant_name", "email", "role", "invited_by", "sent_at", "expires_at", "state"]
        read_only_fields = fields


class ChangeRoleSerializer(StrictSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class RemoveMemberSerializer(StrictSerializer):
    email = serializers.EmailField()
