"""Hypothesis profiles for the fuzz tests. `ci` (the default) is derandomized and bounded, so a run is
reproducible and the whole folder stays within a few minutes on a loaded 2-core machine; `dev` searches
longer (HYPOTHESIS_PROFILE=dev)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# One real daemon serves every example of a test: that it stays up across them is part of the property.
_SHARED = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                      HealthCheck.data_too_large, HealthCheck.large_base_example])
settings.register_profile("ci", max_examples=150, derandomize=True, **_SHARED)
settings.register_profile("dev", max_examples=2000, **_SHARED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
