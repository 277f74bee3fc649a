"""``vigil sim`` as a function: parse the options, run until interrupted, exit status."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from vigil.sim.config import parse_sim_args
from vigil.sim.simulator import run_simulator

REPORT_EVERY_S = 10.0


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_sim_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_simulator(config, report_every_s=REPORT_EVERY_S))
    return 0
