"""Email notifications: rendering (pure), the transactional outbox, digests, SMTP dispatch, calendars."""
