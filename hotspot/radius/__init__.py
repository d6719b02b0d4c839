"""Sign-in through a central RADIUS server (FreeRADIUS or a hosted one), as fleets of hotspots do."""
