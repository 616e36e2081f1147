"""Join token and key-file parsing: the pure logic behind the PKI and autolock checks."""

from __future__ import annotations

import hashlib

import pytest

from swarmcheck.operations import autolock, tokens_pki

# From the Engine API reference (JoinTokens example).
DOC_TOKEN = "SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx"


def test_base36() -> None:
    assert tokens_pki.base36(0) == "0"
    assert tokens_pki.base36(35) == "z"
    assert tokens_pki.base36(36) == "10"
    assert int(tokens_pki.base36(2**256 - 1), 36) == 2**256 - 1
    with pytest.raises(ValueError):
        tokens_pki.base36(-1)


def test_ca_digest_field_is_sha256_of_the_pem_in_base36() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    field = tokens_pki.ca_digest_field(pem)
    assert len(field) == tokens_pki.CA_DIGEST_LEN
    assert tokens_pki.digest_hex(field) == hashlib.sha256(pem.encode()).hexdigest()


def test_small_digests_are_zero_padded() -> None:
    assert tokens_pki.digest_hex("0" * 49 + "z") == format(35, "064x")


def test_parse_documented_token() -> None:
    token = tokens_pki.JoinToken.parse(DOC_TOKEN)
    assert token.ca_digest == "3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl"
    assert token.secret == "1awxwuwd3z9j1z3puu7rcgdbx"
    assert str(token) == DOC_TOKEN
    forged = token.with_ca_digest("0" * tokens_pki.CA_DIGEST_LEN)
    assert str(forged) == f"SWMTKN-1-{'0' * 50}-1awxwuwd3z9j1z3puu7rcgdbx"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "SWMTKN-1-garbage",
        DOC_TOKEN.replace("SWMTKN-1", "SWMTKN-2"),
        DOC_TOKEN[:-1],  # secret one character short
        DOC_TOKEN.replace("3pu6", "3PU6"),  # upper case is not Docker's base 36
        DOC_TOKEN + "-extra",
    ],
)
def test_parse_refuses_malformed_tokens(token: str) -> None:
    with pytest.raises(ValueError):
        tokens_pki.JoinToken.parse(token)


PLAIN = (
    "-----BEGIN PRIVATE KEY-----\nkek-version: 0\nraft-dek: abc\n\nMIGH\n"
    "-----END PRIVATE KEY-----\n"
)
SEALED = (
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nkek-version: 49\nraft-dek: xyz\n\nMIHs\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n"
)


def test_key_sealed_and_headers() -> None:
    assert autolock.key_sealed(SEALED) is True
    assert autolock.key_sealed(PLAIN) is False
    assert autolock.pem_header(SEALED, "kek-version") == "49"
    assert autolock.pem_header(PLAIN, "raft-dek") == "abc"
    assert autolock.pem_header(PLAIN, "missing") is None
    with pytest.raises(ValueError):
        autolock.key_sealed("")
