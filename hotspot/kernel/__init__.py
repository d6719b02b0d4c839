"""Everything that talks to the kernel: nftables (only kernel/nft.py), netlink, conntrack, tc."""
