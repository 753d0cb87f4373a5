"""Benchmarks of Educompte against the limits set for a national deployment.

``python -m bench.run [signin|search|import|letters|reset|all] [--size tiny|full]`` (or
``make bench``) runs the scenarios and rewrites their sections of ``docs/PERFORMANCE.md``.
The tests run every scenario once at the tiny size (tests/bench/) so that this code
keeps working; no test ever asserts a time.
"""
