"""`python -m genscale`: the CLI (how batch jobs call the monitor with our interpreter)."""

from genscale.cli.main import main

main()
