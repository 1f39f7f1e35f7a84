"""Consultation use cases, by responsibility: ``lifecycle`` (create, open, close, auto-close, publish, the
satisfaction round a completed project drafts), ``queries`` (the read side: get, list, result, export, chart),
``results`` (compute, recount, the result document), ``rankings``, ``mapping`` (row <-> domain) and ``access``
(scope checks, loading)."""
