"""The pure lifecycle engine: no web framework, no database."""

from workflow.engine.facts import Decision, Facts
from workflow.engine.machine import Engine, Option, Outcome

__all__ = ["Decision", "Engine", "Facts", "Option", "Outcome"]
