"""The simulator tests' clip fixtures, for the bench's own tests."""
from tests.sim.conftest import backflip  # noqa: F401
