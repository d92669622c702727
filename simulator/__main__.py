"""``python -m simulator serve ...``: the simulator without the platform's CLI around it."""

from simulator.cli import sim

sim(prog_name="python -m simulator")
