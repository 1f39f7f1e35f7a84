"""ORM tables (``orm``) and repositories by aggregate (``repositories``): SQL lives only here. Integrations:
``http`` (resolve, SSRF check, POST to the checked address) and ``secrets`` (signing secrets sealed at rest)."""
