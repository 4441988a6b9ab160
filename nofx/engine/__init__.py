"""The one order path: strategy -> risk -> OMS -> router -> exchange, fills flowing back to the ledger."""
