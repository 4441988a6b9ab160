"""``python -m nofx.persistence [URL]``: upgrade the ledger schema at URL (default $NOFX_DB_URL)."""

from nofx.persistence.migrate import main

raise SystemExit(main())
