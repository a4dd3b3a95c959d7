"""The HTTP front end: the JSON API under /api/v1 (`api/`) and the pages people use (`ui/`)."""
