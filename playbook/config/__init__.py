"""The campaign file: pydantic models (campaign.py), value checks (checks.py), safe YAML loading with line numbers (loader.py)."""
