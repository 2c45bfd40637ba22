"""One module per `kiosk` subcommand. Each exposes ``register(subparsers)``; heavy imports
(Textual, MSAL, fido2 devices) happen inside the handler, never at registration, so that
`kiosk audit verify` starts fast and the core never drags in the TUI."""
