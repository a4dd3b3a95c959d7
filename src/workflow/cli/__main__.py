"""``python -m workflow.cli``: the ``workflow`` command."""

from workflow.cli import main

main()
