"""The stored forms: Avro codec and registry, compatibility, containers, events, snapshots, payroll CSV."""
