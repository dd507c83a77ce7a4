import sys

from loglens.stack.cli import main

sys.exit(main())
