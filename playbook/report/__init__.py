"""What stakeholders see: number formatting (format.py), the chart theme (charts.py), HTML pages (html.py) and the index (index.py), privacy: pseudonyms and the PII guard (privacy.py)."""
