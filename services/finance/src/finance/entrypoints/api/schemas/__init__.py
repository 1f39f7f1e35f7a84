"""Request and response bodies, one module per resource; ``types`` holds the strict types bodies share."""
