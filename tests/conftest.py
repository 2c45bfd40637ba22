"""Root conftest: shared fixtures live in tests/fixtures/, one module per area."""

pytest_plugins = [
    "tests.fixtures.virtual",
    "tests.fixtures.tenant",
    "tests.fixtures.engine",
    "tests.fixtures.tui",
    "tests.fixtures.cups",
    "tests.fixtures.postgres",
    "tests.fixtures.stations",
]
