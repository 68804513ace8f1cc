"""``python -m lrjax``: the ``lrjax`` command line (see ``lrjax.cli``)."""

from lrjax.cli import main

raise SystemExit(main())
