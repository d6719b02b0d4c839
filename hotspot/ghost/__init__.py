"""Ghost traffic: a device using data when or how it usually does not."""
