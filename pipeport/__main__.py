"""`python -m pipeport` is the `pipeport` command."""

import sys

from pipeport.cli import main

sys.exit(main())
