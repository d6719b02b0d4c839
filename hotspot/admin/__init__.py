"""The owner's credential: the password, the sessions, the brakes on guessing."""
