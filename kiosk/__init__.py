"""fido-kiosk: enroll FIDO2 security keys on behalf of Microsoft Entra ID users."""

__version__ = "0.1.0"
