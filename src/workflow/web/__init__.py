"""The HTTP front end: JSON API under /api/v1 (and, later, the HTML pages)."""
