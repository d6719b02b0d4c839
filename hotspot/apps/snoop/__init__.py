"""The DNS snooper: a process of its own that reads DNS answers off the LAN device."""
