"""Kiroku SDK for publishers: vendors, firms and companies."""

from producers.csv_import import import_payroll_csv
from producers.sdk import Producer

__all__ = ["Producer", "import_payroll_csv"]
