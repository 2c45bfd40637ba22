"""The fake tenant: a local HTTPS Entra token endpoint and Graph endpoints with RP checks."""
