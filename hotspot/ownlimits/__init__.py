"""A guest's own choices on its own page: its warning point, its own limit, and a point where it is
asked before going on (the owner may set that point too, per device or for every device)."""
