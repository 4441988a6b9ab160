"""Reports: console metric tables (``console``), plotly figure builders and the offline HTML page
writer (``figures``), HTML tables (``tables``), the research numbers (``analysis``) and sections
(``sections``), labels in English and Simplified Chinese (``i18n``) and the backtest report (``html``)."""
