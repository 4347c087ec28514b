"""``python -m twistfm``: the command line (how ``torchrun -m twistfm train ...`` starts it)."""

from .cli import main

main()
