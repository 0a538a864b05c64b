"""Fixtures for the S3 / KMS tests: moto in-process (``mock_aws``) and moto's standalone server.

The server is a ``ThreadedMotoServer`` on 127.0.0.1, port 0 (a free port), started once per test
session. It shares moto's state with ``mock_aws``, and ``mock_aws`` resets that state when it
starts, so nothing here is shared between tests: each test makes its own bucket and KMS key.
AWS credentials are fake (``testing``) and set per test; no real AWS account is ever reached.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.aws.support import REGION, require


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials only: boto3 must never find a real identity in these tests."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's standalone server on a free loopback port, for the whole session."""
    require("moto")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def in_process_aws(fake_aws_credentials: None) -> Iterator[None]:
    """moto in-process: botocore requests never leave the process."""
    require("moto")
    from moto import mock_aws

    with mock_aws():
        yield


def unique_bucket() -> str:
    return f"kiroku-test-{uuid.uuid4().hex[:12]}"


def boto(service: str, endpoint: str | None = None) -> Any:
    """A plain boto3 client, for what the tests do behind Kiroku's back."""
    import boto3

    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


@dataclass
class AwsDeployment:
    """A bucket name and a KMS key on the moto server, and the settings that point Kiroku at them."""

    endpoint: str
    bucket: str
    kms_key: str
    s3: Any
    kms: Any

    @property
    def objects_url(self) -> str:
        return f"s3://{self.bucket}?region={REGION}&endpoint={self.endpoint}"

    @property
    def keys_url(self) -> str:
        return f"aws-kms://{self.kms_key}?region={REGION}&endpoint={self.endpoint}"


@pytest.fixture
def aws_deployment(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> AwsDeployment:
    """``KIROKU_OBJECTS=s3://…`` and ``KIROKU_KEYS=aws-kms://…`` against the moto server.

    The bucket does not exist yet: Kiroku creates it (versioning and Object Lock on) at start-up.
    """
    for key in [k for k in os.environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)
    kms = boto("kms", moto_endpoint)
    key_id = kms.create_key(Description="kiroku test master key")["KeyMetadata"]["KeyId"]
    deployment = AwsDeployment(moto_endpoint, unique_bucket(), key_id, boto("s3", moto_endpoint), kms)
    monkeypatch.setenv("KIROKU_OBJECTS", deployment.objects_url)
    monkeypatch.setenv("KIROKU_KEYS", deployment.keys_url)
    return deployment


@pytest.fixture
def kiroku(home: Path, clock: Any, aws_deployment: AwsDeployment) -> Iterator[Any]:
    """The core's ``kiroku`` fixture, deployed on S3 + KMS (moto server) instead of files."""
    from ledger.bootstrap import open_kiroku

    k = open_kiroku(home=home, clock=clock)
    try:
        yield k
    finally:
        k.close()
