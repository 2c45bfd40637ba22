"""`kiosk demo`: the whole kiosk on the virtual key and the fake tenant.

``environment`` builds the world (fake tenant with demo users, virtual USB port, state
directory, Settings, Engine); ``robot`` is a simulated operator that plugs, touches and pulls
virtual keys in answer to the engine's prompts (headless runs, tests, benchmarks); ``headless``
is `kiosk demo --headless`. The interactive demo is the TUI over the same environment.
"""
