#!/usr/bin/env bash
# Copy the screens' snapshots (tests/tui/test_snapshots.py, 80x24) to docs/images/screens/,
# where the README and the operator guide show them. tests/unit/test_doc_pictures.py fails
# when a picture in the docs no longer matches its snapshot: update the snapshots, review
# them, then run this.
set -euo pipefail
cd "$(dirname "$0")/.."
for name in signin enroll_touch handover queue summary; do
  cp "tests/tui/__snapshots__/test_snapshots/test_screen_snapshot[${name}-80x24].svg" \
    "docs/images/screens/${name}.svg"
done
