"""Email notifications: who gets which message and its rendering (pure), digests, SMTP dispatch, calendars."""
