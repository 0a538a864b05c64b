"""The domain: identifiers, procedures, periods, deadlines and the models of what is recorded."""
