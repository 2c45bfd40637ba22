"""kiosk.x509util: keys are written private, issued certificates chain to their issuer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kiosk import x509util

NOW = datetime.now(UTC)


def test_key_file_is_owner_only_even_over_a_world_readable_file(tmp_path: Path) -> None:
    key = x509util.ec_key()
    cert = x509util.certificate(
        x509util.name("self"), key, not_before=NOW, not_after=NOW + timedelta(days=1)
    )
    key_path = tmp_path / "k.pem"
    key_path.write_bytes(b"old")
    key_path.chmod(0o644)
    cert_path, key_path = x509util.write_pair(cert, key, tmp_path / "c.pem", key_path)
    assert key_path.stat().st_mode & 0o777 == 0o600
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert loaded.public_key() == key.public_key()
    assert x509.load_pem_x509_certificate(cert_path.read_bytes()) == cert


def test_leaf_is_signed_by_its_ca_with_the_extensions_asked_for() -> None:
    ca_key, leaf_key = x509util.ec_key(), x509util.ec_key()
    until = NOW + timedelta(days=1)
    ca = x509util.certificate(
        x509util.name("CA", organization="Org"), ca_key,
        not_before=NOW, not_after=until, extensions=x509util.ca_extensions(ca_key),
    )
    leaf = x509util.certificate(
        x509util.name("leaf", country="SE", organization="Org", unit="Unit"), leaf_key,
        not_before=NOW, not_after=until, issuer=ca, issuer_key=ca_key,
        extensions=[x509util.end_entity()],
    )
    leaf.verify_directly_issued_by(ca)
    assert leaf.issuer == ca.subject
    assert leaf.subject.rfc4514_string() == "CN=leaf,OU=Unit,O=Org,C=SE"
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_issuer_without_its_key_is_refused() -> None:
    key = x509util.ec_key()
    ca = x509util.certificate(
        x509util.name("CA"), key, not_before=NOW, not_after=NOW + timedelta(days=1)
    )
    with pytest.raises(ValueError, match="go together"):
        x509util.certificate(
            x509util.name("leaf"), key, not_before=NOW, not_after=NOW + timedelta(days=1),
            issuer=ca,
        )
