"""`python -m ragline` runs the ragline command."""

from ragline.cli import main

main()
