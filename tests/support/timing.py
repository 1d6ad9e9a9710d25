"""How long an end-to-end test may wait for the event it expects before it counts as a hang."""

from __future__ import annotations

import os

# A ceiling, not an estimate: tests wait on events, so a loaded machine only makes them slower.
# A slow CI can raise it.
WAIT_SECONDS = float(os.environ.get("VERBATIM_TEST_WAIT_SECONDS", "300"))
