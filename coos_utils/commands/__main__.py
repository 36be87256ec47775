"""``python -m coos_utils.commands``: the ``coos`` command."""

import sys

from coos_utils.commands import main

sys.exit(main())
