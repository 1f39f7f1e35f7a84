"""Test helpers shared by every service's tests (see :mod:`renovation_common.testing.plugin`)."""

from renovation_common.testing.plugin import bearer, eventually, running_app

__all__ = ["bearer", "eventually", "running_app"]
