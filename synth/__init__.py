"""A synthetic customs world whose truth is known: parties, goods, routes, ENS,
declarations, planted risk schemes and a biased control history.

Used by the demo, the tests and the benchmarks. ``generate_world`` is the entry point.
"""

from synth.config import WorldConfig
from synth.world import World, generate_world, write_world

__all__ = ["World", "WorldConfig", "generate_world", "write_world"]
