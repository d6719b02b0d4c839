"""`python -m hotspot.daemon`: hotspotd, as the console script runs it."""

import sys

from hotspot.daemon.main import main

sys.exit(main())
