"""``python -m workflow``: the ``workflow`` command."""

from workflow.cli import main

main()
