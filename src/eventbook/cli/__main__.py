"""`python -m eventbook.cli`: the same as the `eventbook` console script."""

from eventbook.cli import main

main()
