"""A guest's own choices on its own page: data off, asking the owner for more, and its background trickle."""
