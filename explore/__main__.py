"""`python -m explore ...` runs the command line."""

from explore.cli import run

run()
