"""Kiroku SDK for publishers: vendors, firms and companies."""

from producers.csv_import import import_payroll_csv
from producers.file_import import ImportResult, import_file, import_files
from producers.sdk import Producer

__all__ = ["ImportResult", "Producer", "import_file", "import_files", "import_payroll_csv"]
