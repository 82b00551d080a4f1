import hashlib

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from project.ids import new_public_id
from project.sql import LoadedWithoutInit


def normalize_email(email: str) -> str:
    """Emails identify users (the original design keys everything by email): compare them
    case-insensitively by storing them lower-cased."""
    return (email or "").strip().lower()


def user_group(user_id: int) -> str:
    """The real-time group of everything addressed to one user (notifications, membership)."""
    return f"user.{user_id}"


def access_group(user_id: int) -> str:
    """The group that tells every socket of one user to check its rights again: a membership,
    a participation, the password or `is_active` ended (project.realtime.consumers)."""
    return f"access.{user_id}"


def session_group(session_key: str) -> str:
    """The group a browser session's sockets join, so that logging out closes them.
    Hashed: the event log must never hold a usable session key."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def hash_secret(raw: str) -> str:
    """Tokens and tickets carry 256 random bits, so a fast hash is enough; only hashes are stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        email = normalize_email(email)
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, email):
        return self.get(email=normalize_email(email))


class User(LoadedWithoutInit, AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    #: When the user followed the link sent to `email` (or accepted an invitation sent there).
    email_verified_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        user._active_in_db = user.__dict__.get("is_active")
        return user

    def save(self, *args, **kwargs):
        """Saving a new password or deactivating the user ends the rights its sockets hold.
        Here rather than in a service: Django's own password forms, the admin and
        `manage.py changepassword` save users directly, and none of them may leave a socket open."""
        ended = not self._state.adding and (
            self._password is not None or (getattr(self, "_active_in_db", None) and not self.is_active)
        )
        super().save(*args, **kwargs)
        self._active_in_db = self.is_active
        if ended:
            from .services import recheck_user_access

            recheck_user_access(self.pk, "credentials_changed")

    def get_full_name(self):
        return self.display_name or self.email

    def get_short_name(self):
        return self.display_name or self.email.split("@")[0]

    @property
    def group(self) -> str:
        return user_group(self.pk)


class Tenant(LoadedWithoutInit, models.Model):
    id = models.CharField(primary_key=True, max_length=16, default=new_public_id, editable=False)
    name = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)
    members = models.ManyToManyField(User, through="Membership", related_name="tenants")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    @property
    def group(self) -> str:
        return f"tenant.{self.id}"


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"

    MANAGER_ROLES = (Role.OWNER, Role.ADMIN)

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")
        ]
        ordering = ["tenant", "user__email"]

    def __str__(self):
        return f"{self.user} in {self.tenant} ({self.role})"

    @property
    def can_manage_members(self) -> bool:
        return self.role in self.MANAGER_ROLES


class Invitation(models.Model):
    """An owner or admin asked `email` to join `tenant` with `role`. Nobody joins without
    accepting: from the emailed link (which carries a secret, stored here only as its SHA-256),
    or from their home page once they have verified that address. Single-use and expiring;
    resending makes a new link and the old one stops working."""

    id = models.CharField(primary_key=True, max_length=16, default=new_public_id, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    invited_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="accounts_one_open_invitation_per_address",
            )
        ]

    def __str__(self):
        return f"{self.email} to {self.tenant} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None

    @property
    def is_pending(self) -> bool:
        """Open and not expired: it can still be accepted."""
        return self.is_open and self.expires_at > timezone.now()

    STATES = ["pending", "expired", "accepted", "revoked"]

    @property
    def state(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "pending" if self.is_pending else "expired"


class ApiToken(LoadedWithoutInit, models.Model):
    """An opaque bearer token for REST clients. Only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    #: The first characters of the token, so owners can tell their tokens apart.
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def group(self) -> str:
        return f"apitoken.{self.pk}"


class WsTicket(models.Model):
    """A short-lived, single-use credential for opening one WebSocket (`?ticket=`), so that a
    long-lived bearer token never lands in a URL and from there in access logs."""

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    #: The browser session the ticket was issued to, if any: it must still be logged in when
    #: the ticket is redeemed, and its logout closes the socket. Lives for WS_TICKET_TTL at
    #: most, next to the session table that holds the same key.
    session_key = models.CharField(max_length=40, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"ticket for {self.user_id} until {self.expires_at:%H:%M:%S}"
