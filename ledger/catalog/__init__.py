"""The catalog: tables derived from the log, their migrations, and the reads the rules need."""
