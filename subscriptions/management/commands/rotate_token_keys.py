from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from subscriptions import crypto
from subscriptions.models import ProviderAccount

BATCH_SIZE = 500


class Command(BaseCommand):
    help = ("Re-encrypt every stored OAuth token and tenant provider key with the first key of FIELD_ENCRYPTION_KEYS "
            "(after adding a new key in front; remove the old key only afterwards).")

    def handle(self, *args, **options):
        rotated = 0
        last_pk = ""
        while True:
            with transaction.atomic():
                batch = list(
                    ProviderAccount.objects.select_for_update().filter(pk__gt=last_pk).order_by("pk")
                    .only("pk", "access_token_encrypted", "refresh_token_encrypted")[:BATCH_SIZE]
                )
                if not batch:
                    break
                for account in batch:
                    try:
                        account.access_token_encrypted = crypto.rotate(account.access_token_encrypted)
                        account.refresh_token_encrypted = crypto.rotate(account.refresh_token_encrypted)
                    except crypto.UndecryptableToken:
                        raise CommandError(
                            f"account {account.pk}: no key in FIELD_ENCRYPTION_KEYS decrypts its tokens; "
                            "put the old key back (anywhere after the first) and run again."
                        ) from None
                ProviderAccount.objects.bulk_update(batch, ["access_token_encrypted", "refresh_token_encrypted"])
            rotated += len(batch)
            last_pk = batch[-1].pk
        from queue_app.tenant_providers import rotate_keys

        try:
            tenants = rotate_keys(BATCH_SIZE)
        except crypto.UndecryptableToken:
            raise CommandError("a tenant's provider key: no key in FIELD_ENCRYPTION_KEYS decrypts it; "
                               "put the old key back (anywhere after the first) and run again.") from None
        self.stdout.write(f"Re-encrypted the tokens of {rotated} accounts and the provider keys of {tenants} "
                          "tenants with the first key.")
