"""Run the command line as `python -m bot`; the commands live in bot/cli.py."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
