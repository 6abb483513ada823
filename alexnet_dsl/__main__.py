"""`python -m alexnet_dsl` runs `dslc`."""

from alexnet_dsl.cli.main import main

raise SystemExit(main())
