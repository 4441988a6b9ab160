"""Reports: console metric tables (``console``), plotly figure builders and the offline HTML page
writer (``figures``), HTML tables (``tables``) and the backtest report (``html``)."""
