"""What ThriveCart sends, read into plain Python: payload parsing, item keys, orders."""
