"""Which apps use the data: categories, dnsmasq's sets, the DNS snooper, the update guard."""
