"""The HTTP API's routers, one per area of the service layer."""
