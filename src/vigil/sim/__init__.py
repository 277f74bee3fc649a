"""Simulated GB/T 28181 devices (IPCs and NVRs) for demos, tests and load (``vigil sim``).

A separate program: it talks to the platform only over SIP sockets and imports nothing but
the sans-I/O protocols and the settings schema. Entry points: :func:`run_simulator` with a
:class:`SimConfig`, :func:`parse_sim_args` for the command line, and :func:`main`.
"""

from vigil.sim.config import SimConfig, build_arg_parser, parse_sim_args
from vigil.sim.main import main
from vigil.sim.simulator import Simulator, run_simulator

__all__ = ["SimConfig", "Simulator", "build_arg_parser", "main", "parse_sim_args", "run_simulator"]
