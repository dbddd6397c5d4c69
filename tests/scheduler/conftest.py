"""The SSH fixtures, for the scheduler tests against the testbed's Slurm."""

from ..ssh.conftest import aio, aio_nursery, testbed_pool  # noqa: F401  (fixtures)
