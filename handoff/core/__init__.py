"""Use cases, typed views, copy and rules of the hub (no web framework imports)."""
