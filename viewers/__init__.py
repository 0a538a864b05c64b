"""Kiroku views for readers: agencies, companies and firms."""
