"""Tables (``orm.py``) and repositories by aggregate (``repositories/``); SQL lives only here."""
