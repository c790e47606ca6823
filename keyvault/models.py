"""Stored key material: server RSA keys, data keys, master versions, endorsements.

Nothing here is ever plaintext key material. Private keys are PKCS#8 DER
encrypted with AES-256-GCM under a per-row data-encryption key (DEK); the
DEK is wrapped by the master key through the KMS backend (docs/keyvault.md,
"Envelope"). Use the service API (``keyvault/__init__.py``), never these
models directly, to read or change keys.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q


class Purpose(models.TextChoices):
    """What an RSA server key is for."""

    SIGNING = "signing", "signing"
    ENCRYPTION = "encryption", "encryption"


class State(models.TextChoices):
    """Life-cycle states of a server key (transitions: ``keyvault.internal.states``)."""

    PENDING = "pending", "pending"
    ACTIVE = "active", "active"
    RETIRING = "retiring", "retiring"
    DISABLED = "disabled", "disabled"
    PENDING_DELETION = "pending_deletion", "pending deletion"
    DESTROYED = "destroyed", "destroyed"


class Algorithm(models.TextChoices):
    """RSA key sizes the vault creates."""

    RSA_2048 = "RSA-2048", "RSA-2048"
    RSA_3072 = "RSA-3072", "RSA-3072"
    RSA_4096 = "RSA-4096", "RSA-4096"


class ServerKey(models.Model):
    """One RSA key pair of the server: the public half in clear, the private half enveloped."""

    kid = models.CharField(max_length=32, unique=True, help_text="stable id, e.g. sig-3")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    algorithm = models.CharField(max_length=16, choices=Algorithm.choices)
    version = models.PositiveIntegerField(help_text="counts keys of one purpose from 1")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    public_key = models.BinaryField(help_text="SubjectPublicKeyInfo DER (rsaEncryption)")
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the SPKI DER, hex")
    created_at = models.DateTimeField()
    activated_at = models.DateTimeField(null=True, blank=True)
    retire_after = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    deletion_scheduled_at = models.DateTimeField(null=True, blank=True)
    delete_after = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)
    deletion_allowed = models.BooleanField(
        default=False, help_text="whether destruction may be scheduled (off for signing keys)"
    )
    compromised = models.BooleanField(default=False)
    compromised_at = models.DateTimeField(null=True, blank=True)
    usage_count = models.BigIntegerField(default=0, help_text="private-key operations")
    master_version = models.PositiveIntegerField(help_text="master key version of wrapped_dek")
    wrapped_dek = models.BinaryField(help_text="DEK wrapped by the master key (KMS blob)")
    wrapped_private_key = models.BinaryField(help_text="nonce || AES-256-GCM(DEK, PKCS#8 DER)")

    class Meta:
        ordering: ClassVar = ["purpose", "version"]
        constraints: ClassVar = [
            # The database, not only the service code, keeps one active key per purpose.
            models.UniqueConstraint(
                fields=["purpose"],
                condition=Q(state="active"),
                name="keyvault_one_active_key_per_purpose",
            ),
            models.UniqueConstraint(
                fields=["purpose", "version"], name="keyvault_unique_purpose_version"
            ),
        ]
        permissions: ClassVar = [
            ("rotate_serverkey", "Can rotate, retire, disable, re-enable and rewrap keys"),
            (
                "destroy_serverkey",
                "Can schedule destruction, mark keys compromised and set the minimum version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.purpose}, {self.state})"


class MinimumKeyVersion(models.Model):
    """The minimum usable version of a purpose's server keys (Vault's ``min_decryption_version``).

    Every key of ``purpose`` with a lower version is unusable for good: it
    was marked compromised when the minimum was set, and it is never
    re-enabled. No row means 1 (every version usable). The value is only
    ever raised (docs/keyvault.md, "Minimum usable version").
    """

    purpose = models.CharField(max_length=16, choices=Purpose.choices, unique=True)
    version = models.PositiveIntegerField(default=1)
    set_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"minimum {self.purpose} version {self.version}"


class Endorsement(models.Model):
    """A signature by an older signing key over a newer one (protocol.md; cumulative)."""

    key = models.ForeignKey(ServerKey, on_delete=models.PROTECT, related_name="endorsements")
    by = models.ForeignKey(ServerKey, on_delete=models.PROTECT, related_name="endorsed")
    by_spki = models.BinaryField()
    signature = models.BinaryField()
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["id"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["key", "by"], name="keyvault_unique_endorsement")
        ]

    def __str__(self) -> str:
        return f"{self.by_id} endorses {self.key_id}"


class DataKey(models.Model):
    """A 32-byte data key (per conversation, the audit MAC key...) wrapped by the master key."""

    key_id = models.CharField(max_length=40, unique=True)
    purpose = models.CharField(max_length=40)
    context = models.CharField(max_length=200, blank=True, default="")
    master_version = models.PositiveIntegerField()
    wrapped_key = models.BinaryField()
    created_at = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["id"]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.purpose})"


class MasterKeyVersion(models.Model):
    """What the database knows about a master key version (the key is in the KMS).

    ``check_blob`` wraps a fixed value under this version when it is first
    seen; if it no longer opens, the configured master key is the wrong one
    (not a damaged row).
    """

    version = models.PositiveIntegerField(unique=True)
    backend = models.CharField(max_length=40)
    created_at = models.DateTimeField()
    check_blob = models.BinaryField()
    disabled = models.BooleanField(default=False)
    compromised = models.BooleanField(default=False)
    wrapped_count = models.BigIntegerField(default=0, help_text="data keys wrapped")

    class Meta:
        ordering: ClassVar = ["version"]

    def __str__(self) -> str:
        return f"master v{self.version}"


class VaultGeneration(models.Model):
    """One row whose counter changes with every key state change.

    Every process compares it (at most once a second) with the value its
    cache was built at, so a rotation elsewhere is seen without a query per
    message.
    """

    generation = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"generation {self.generation}"
