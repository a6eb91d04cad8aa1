"""Shared core of the Salesforce sync hub: domain, services, ports and adapters."""

__version__ = "0.1.0"
