"""Access keys: format, hashing and what may be shown of them."""

from datetime import UTC, datetime, timedelta

from overspill.keys import AccessKey, KeyStatus, display_prefix, generate_key, hash_key, is_well_formed

PEPPER = b"p" * 48


def test_issued_key_is_ak_plus_32_random_bytes_url_safe():
    key = generate_key(PEPPER)
    assert key.plain.startswith("ak_")
    assert len(key.plain) == 3 + 43  # base64url of 32 bytes, unpadded
    assert is_well_formed(key.plain)
    assert generate_key(PEPPER).plain != key.plain


def test_only_the_hmac_and_a_short_prefix_are_kept():
    key = generate_key(PEPPER)
    assert key.key_hash == hash_key(key.plain, PEPPER)
    assert len(key.key_hash) == 64 and key.plain not in key.key_hash
    assert key.prefix == key.plain[:10] and len(key.prefix) == 10


def test_hash_depends_on_the_pepper():
    key = generate_key(PEPPER)
    assert hash_key(key.plain, b"q" * 48) != key.key_hash


def test_malformed_keys_are_recognised():
    for bad in ["", "ak_", "ak_short", "sk-ant-api03-xyz", "ak_" + "a" * 42, "ak_" + "a" * 42 + "\r\n",
                "ak_" + "a" * 40 + "/../", "AK_" + "a" * 43, "ak_" + "é" * 43]:
        assert not is_well_formed(bad), bad


def test_display_prefix_never_reveals_the_secret_part():
    assert display_prefix("ak_" + "x" * 43) == "ak_xxxxxxx"


def test_revoked_and_expired_keys_are_not_usable():
    now = datetime.now(UTC)
    base = dict(key_hash="h", key_id="k", user_id="u", prefix="ak_1234567", created_at=now)
    assert AccessKey(status=KeyStatus.ACTIVE, **base).is_usable(now)
    assert not AccessKey(status=KeyStatus.REVOKED, **base).is_usable(now)
    assert not AccessKey(status=KeyStatus.ACTIVE, expires_at=now - timedelta(seconds=1), **base).is_usable(now)
    assert AccessKey(status=KeyStatus.ACTIVE, expires_at=now + timedelta(days=1), **base).is_usable(now)
