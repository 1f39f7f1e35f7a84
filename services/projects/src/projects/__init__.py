"""Projects service: scheduling of renovation works."""
