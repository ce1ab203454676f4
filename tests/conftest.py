"""Hypothesis profiles: `ci` (default) is derandomized so a green run is reproducible;
`dev` is randomized with more examples: HYPOTHESIS_PROFILE=dev pytest."""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=200,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev",
    max_examples=2000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def scaled(n: int) -> int:
    """`n` examples under the `ci` profile (200 by default), proportionally more under `dev`."""
    return max(1, round(n * settings().max_examples / 200))
