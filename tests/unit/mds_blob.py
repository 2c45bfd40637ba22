"""Builds small MDS3 blobs signed by a throw-away test root, the way FIDO signs the real one
(a JWS with an x5c chain, RS256)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from kiosk import x509util


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@dataclass
class MdsSigner:
    root_der: bytes
    leaf_der: bytes
    leaf_key: rsa.RSAPrivateKey

    @classmethod
    def create(cls, name: str = "Test MDS") -> MdsSigner:
        root_key, leaf_key = x509util.rsa_key(), x509util.rsa_key()
        now = datetime.now(UTC)
        valid = now - timedelta(days=1), now + timedelta(days=365)
        root = x509util.certificate(
            x509util.name(f"{name} Root"),
            root_key,
            not_before=valid[0],
            not_after=valid[1],
            extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)],
        )
        leaf = x509util.certificate(
            x509util.name(f"{name} Signer"),
            leaf_key,
            issuer=root,
            issuer_key=root_key,
            not_before=valid[0],
            not_after=valid[1],
            extensions=[x509util.end_entity()],
        )
        return cls(root.public_bytes(Encoding.DER), leaf.public_bytes(Encoding.DER), leaf_key)

    def sign(self, payload: dict[str, Any]) -> bytes:
        header = {
            "alg": "RS256",
            "typ": "JWT",
            "x5c": [base64.b64encode(self.leaf_der).decode()],
        }
        message = (
            _b64url(json.dumps(header).encode()) + b"." + _b64url(json.dumps(payload).encode())
        )
        signature = self.leaf_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return message + b"." + _b64url(signature)


def entry(aaguid: str, description: str, status: str = "FIDO_CERTIFIED_L1") -> dict[str, Any]:
    return {
        "aaguid": aaguid,
        "statusReports": [{"status": status, "effectiveDate": "2024-01-01"}],
        "timeOfLastStatusChange": "2024-01-01",
        "metadataStatement": {
            "description": description,
            "aaguid": aaguid,
            "authenticatorVersion": 1,
            "schema": 3,
            "upv": [{"major": 1, "minor": 1}],
            "attestationTypes": ["basic_full"],
            "userVerificationDetails": [[{"userVerificationMethod": "passcode_external"}]],
            "keyProtection": ["hardware", "secure_element"],
            "matcherProtection": ["on_chip"],
            "attachmentHint": ["external", "wired"],
            "tcDisplay": [],
            "attestationRootCertificates": [],
            "protocolFamily": "fido2",
        },
    }


def payload(entries: list[dict[str, Any]], next_update: str, number: int = 42) -> dict[str, Any]:
    return {
        "legalHeader": "Test blob, not FIDO's.",
        "no": number,
        "nextUpdate": next_update,
        "entries": entries,
    }
