"""Web pages for agency staff, companies, firms and vendors (issue 16): server-rendered, Japanese
first, on the same service layer as the HTTP API."""
