"""Observability: Prometheus metrics (``metrics``, ``asgi``), structured logs with request/trader/order ids
(``logs``) and the ``nofx profile`` runner (``profile``). Nothing here changes what the engine does: it
listens to the kernel's event and rejection hooks, times the ledger store's public write calls and reads
cheap counters when Prometheus scrapes."""
