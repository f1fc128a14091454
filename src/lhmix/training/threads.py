"""OpenMP's wait policy for the training stages, set on import: import this before anything imports torch
(OpenMP reads the policy once, when torch loads it); a value already in the environment wins.

PASSIVE: a thread with no work sleeps at once instead of spinning. On a machine whose 2 cores other processes
share, a spinning thread burns the time slice its partner needs at every barrier: the SPLADE-tiny prompt step
measured 469-737 ms with libgomp's default and 145-158 ms passive, under a load average of 10
(reports/bench-speedup.md: 11x the examples/s of the code before, old / new / old). On an idle machine the
threads then wake for each operation instead of spinning: not measured here (no idle machine was available).
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
