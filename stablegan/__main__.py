"""``python -m stablegan``: the command line (:mod:`stablegan.cli`)."""

import sys

try:
    from stablegan.cli import main
except KeyboardInterrupt:  # SIGINT while Python starts the command: quiet, like any SIGINT
    sys.exit(130)

sys.exit(main())
