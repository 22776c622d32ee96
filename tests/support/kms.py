"""moto 5.2 lets a disabled KMS key encrypt and decrypt; real KMS answers DisabledException."""

from __future__ import annotations

import pytest


def enforce_kms_key_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto honest about disabled keys for the rest of the test."""
    from moto.core.exceptions import JsonRESTError
    from moto.kms.models import KmsBackend

    def refuse_if_disabled(backend: KmsBackend, arn: str) -> None:
        if not backend.keys[backend.get_key_id(arn)].enabled:
            raise JsonRESTError("DisabledException", f"{arn} is disabled.")

    original_decrypt, original_encrypt = KmsBackend.decrypt, KmsBackend.encrypt

    def decrypt(self, *args, **kwargs):
        plaintext, arn = original_decrypt(self, *args, **kwargs)
        refuse_if_disabled(self, arn)
        return plaintext, arn

    def encrypt(self, *args, **kwargs):
        ciphertext, arn = original_encrypt(self, *args, **kwargs)
        refuse_if_disabled(self, arn)
        return ciphertext, arn

    monkeypatch.setattr(KmsBackend, "decrypt", decrypt)
    monkeypatch.setattr(KmsBackend, "encrypt", encrypt)
