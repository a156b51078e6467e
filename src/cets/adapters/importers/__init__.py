"""Importers: published files (market quotes, registry extracts) read into CETS's own rows."""
