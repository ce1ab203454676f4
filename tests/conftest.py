"""Hypothesis profiles: `ci` (default) is derandomized so a green run is reproducible;
`dev` is randomized with more examples: HYPOTHESIS_PROFILE=dev pytest."""

import os

import pytest
from hypothesis import HealthCheck, settings

_REPO = pytest.StashKey[dict]()

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


def pytest_sessionstart(session):
    """Snapshot the repository (on the controller only, under xdist) to check at the end that no
    test wrote into it: tests write only to their tmp dirs."""
    if not hasattr(session.config, "workerinput"):
        from repo_support import repo_snapshot

        session.config.stash[_REPO] = repo_snapshot()


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(_REPO, None)
    if before is None:
        return
    from repo_support import repo_snapshot, written

    changed = written(before, repo_snapshot())
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "the suite wrote into the repository: " + ", ".join(changed[:20])
        if reporter is not None:
            reporter.write(f"\n{message}\n", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
