"""The browser fixtures of `web_support`, for this directory's tests. The helpers are imported
from `web_support` by name: `from conftest import` finds whichever conftest was loaded last."""

from web_support import browser, page, site

__all__ = ["browser", "page", "site"]
