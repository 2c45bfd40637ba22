#!/usr/bin/env bash
# Bootstrap (if needed) and run the kiosk on the virtual key and the fake tenant.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/kiosk demo "$@"
