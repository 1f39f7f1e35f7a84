"""ORM rows and repositories; SQL lives only here."""
