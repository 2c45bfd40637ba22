"""Microsoft Entra ID and Graph: MSAL token provider, Graph client, typed models."""
