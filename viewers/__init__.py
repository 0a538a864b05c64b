"""Kiroku views for readers: agencies, companies and firms."""

from viewers.agency import AgencyView
from viewers.company import CompanyView
from viewers.firm import FirmView

__all__ = ["AgencyView", "CompanyView", "FirmView"]
