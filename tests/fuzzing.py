"""Shared settings of the fuzz tests: derandomized (CI runs the same examples every time), no example database,
the failing example and its ``@reproduce_failure`` blob printed on failure, and ``SMNER_FUZZ_SCALE`` to scale the
example counts (0.1 for a quick run, 10 for a long one)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = float(os.environ.get("SMNER_FUZZ_SCALE", "1"))


def fuzz_settings(n: int):
    """Hypothesis settings for ``n`` examples (times ``SMNER_FUZZ_SCALE``)."""
    return settings(
        max_examples=max(1, round(n * SCALE)),
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )
