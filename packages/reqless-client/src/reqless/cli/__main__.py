"""``python -m reqless.cli``: the ``reqless`` command without its console script."""

from reqless.cli._main import main

raise SystemExit(main())
