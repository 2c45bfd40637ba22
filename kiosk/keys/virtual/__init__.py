"""The virtual key: a software CTAP 2.1 authenticator behind python-fido2's CtapHidConnection."""
