"""The fake tenant: a local HTTPS Entra token endpoint and Graph endpoints with RP checks.

Product code, not test scaffolding: the demo, ``kiosk fake-tenant`` and every flow test run
against it over real TLS and real HTTP.

- :mod:`.server`       ``FakeTenant``: start/stop, URLs, credentials, Settings / kiosk.toml
- :mod:`.http_server`  HTTP/1.1 keep-alive over TLS (Nagle off, handshakes off the accept loop)
- :mod:`.tokens`       OIDC discovery, v2.0 token endpoint (secret / certificate assertion), AADSTS
- :mod:`.graph_api`    Graph v1.0 and beta routes: users, groups, paging, FIDO2 methods
- :mod:`.properties`   the properties returned of users and directory objects ($select)
- :mod:`.client_config` what a client needs: authority, CA, credential files, Settings
- :mod:`.batch`        ``POST /$batch`` (JSON batching): body checks, each step through its route
- :mod:`.options`      creation options shaped like Graph's (challenges recorded)
- :mod:`.verify`       registration checks as a relying party makes them; tenant FIDO2 policy
- :mod:`.state`        users, groups, methods, challenges
- :mod:`.kept`         the tenant's identity at start: new, or read back from its state directory
- :mod:`.snapshot`     the tenant kept on disk (``keep=True``): written before each answer leaves
- :mod:`.demo_tenant`  ``make_demo_tenant``: a made-up directory for demos and tests
- :mod:`.faults`       latency and faults, scheduled or random from a seed
- :mod:`.permissions`  the application permission each Graph route needs
- :mod:`.pki`          CA, server certificate and app certificate made at start (or read back)
- :mod:`.wire`         requests, responses, Graph and AADSTS error bodies
"""
