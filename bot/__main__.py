"""Run the command line as `python -m bot`; the commands live in bot/cli.py."""

import faulthandler
import sys
from pathlib import Path


def _drop_working_folder() -> None:
    """Take the working folder off the import path unless this package was found there."""
    # `python -m` puts the working folder first. Run from a data folder, its index/ folder
    # would stand in for the engine package, which an installed one is found only after.
    if sys.flags.safe_path or not sys.path:
        return
    if Path(sys.path[0]).resolve() != Path(__file__).resolve().parent.parent:
        del sys.path[0]


if __name__ == "__main__":
    # A crash in native code (torch, FAISS, spaCy) then prints every thread's Python stack.
    faulthandler.enable()
    _drop_working_folder()

from bot.cli import main  # noqa: E402  (once the path is right)

if __name__ == "__main__":
    sys.exit(main())
