"""hotspotd: the loop that walks the capabilities' steps, the socket it serves, the portal it runs."""
