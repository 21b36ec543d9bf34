"""Seasonal Campaign Playbook: the tested helper package behind the campaign notebooks."""

__version__ = "0.1.0"
