"""`python -m app` runs the ragline command."""

from app.cli import main

main()
