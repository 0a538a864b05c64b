"""Kiroku's core: domain, service layer, ports, adapters and processors."""

__version__ = "0.1.0"
