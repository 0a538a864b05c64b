"""The service fixtures (kafka_single, kafka_cluster, postgres_server…) live in
``tests/service_fixtures.py``, a plugin that ``tests/conftest.py`` loads for every directory."""
