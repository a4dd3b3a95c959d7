"""Workflow definitions: YAML with line numbers, the typed model, whole-graph validation, diagrams."""
