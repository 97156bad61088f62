"""`python -m eventbook.projections run package.module:build --store URL`."""

from eventbook.projections.cli import main

raise SystemExit(main())
