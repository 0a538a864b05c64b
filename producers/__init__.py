"""Kiroku SDK for publishers: vendors, firms and companies."""
