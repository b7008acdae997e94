"""store"""

from imagegate.store import perf_daily  # noqa: E402,F401  (registers the rollup tables on Base, issue 10)
