"""Workflow and approval engine for the lifecycle of micro-credentials."""

__version__ = "0.1.0"
