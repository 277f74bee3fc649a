"""``python -m vigil.sim --platform HOST:PORT …``: the simulator without the main CLI."""

import sys

from vigil.sim.main import main

sys.exit(main())
