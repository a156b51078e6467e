"""Supervision: abnormal-trading detectors over the order and trade stream, each alert carrying
the orders and trades that prove it (DOMAIN.md, "Supervision"). Pure: events in, alerts out."""
