"""The service layer: commands, queries, authorization, the access log, sealing, retention, principals."""
