"""The kernel in one package: what hotspot holds there, and the modules that change and read it.

rules.py       what our nftables table holds, as pure data: names, rules, JSON commands (no I/O)
nft.py         the executor: loads and changes the table; the only module that talks to nftables
dumps.py       reads counters, quotas and set elements with raw netlink dumps (the fast path)
watch.py       notices the table's deletion (nftables' notifications), with its last counters
netlink.py     the hand-written netlink the others share: attributes, messages, one request loop
conntrack.py   ends portal redirects, re-marks a forgotten client's connections, lists flows
neighbours.py  MACs behind addresses and the LAN's own addresses (rtnetlink), new-neighbour notices
routes.py      the device of the default route (rtnetlink)
tc.py          throttles: HTB classes on the LAN and WAN devices
"""
