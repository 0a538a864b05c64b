"""Keyed request fingerprints on AWS KMS (issue 14, item 2): the same on every server of one
deployment, gone with the scope's data key; and the keyed-fingerprint flows re-run on S3 + KMS."""

from __future__ import annotations

import hashlib

import pytest

from tests.integration.aws.support import require

require("moto")
require("boto3")

from ledger.adapters.kms_keys import KmsKeyService  # noqa: E402
from ledger.errors import KeyErased  # noqa: E402
from ledger.service.idempotency import KEYED_V1, Fingerprints, canonical_request  # noqa: E402
from ledger.service.sealing import key_scope  # noqa: E402
from tests.integration.aws.conftest import boto, unique_bucket  # noqa: E402
from tests.integration.aws.test_kms_keys import kms_url  # noqa: E402
from tests.integration.test_fingerprint_keyed import (  # noqa: E402,F401
    old_request_fingerprint,
    test_a_reader_of_the_entry_cannot_confirm_a_guessed_personal_number_by_hashing_the_request,
    test_a_retry_returns_the_original_receipt_and_another_personal_number_under_the_key_conflicts,
    test_after_crypto_shredding_no_one_can_recompute_the_fingerprint,
    test_the_fingerprint_is_the_same_after_a_restart_so_a_retry_still_gets_its_receipt,
    the_request,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("aws_deployment")]

SCOPE = key_scope("7000012050002", "PAYROLL_REPORT", "2026")


def test_two_servers_on_one_kms_deployment_fingerprint_alike_until_the_scope_is_shredded(in_process_aws) -> None:
    key = boto("kms").create_key()["KeyMetadata"]["KeyId"]
    url = kms_url(key, unique_bucket(), None)
    one, two = KmsKeyService.from_url(url), KmsKeyService.from_url(url)  # two processes: caches of their own
    req = the_request()
    a, b = Fingerprints(one).of(req, SCOPE), Fingerprints(two).of(req, SCOPE)
    assert a == b and a.value.startswith(KEYED_V1)
    assert a.value[len(KEYED_V1):] not in {old_request_fingerprint(req), hashlib.sha256(canonical_request(req)).hexdigest()}

    one.destroy(a.key_id)
    two.clear_cache()  # or cache_seconds later
    for service in (one, two):
        with pytest.raises(KeyErased) as err:
            Fingerprints(service).of(req, SCOPE)
        assert (err.value.code, err.value.got) == ("erased", a.key_id)


def test_these_flows_really_ran_on_kms(kiroku) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(kiroku.keys, KmsKeyService)


def test_a_refused_request_under_a_new_key_leaves_no_data_key_in_the_kms_store(kiroku) -> None:  # type: ignore[no-untyped-def]
    from ledger.domain.model import Principal
    from ledger.errors import ValidationError
    from tests.factories import payroll, payroll_line

    req = the_request("refused-1").model_copy(update={"payload": payroll([payroll_line(1, payment_amount=-1)])})
    with pytest.raises(ValidationError) as err:
        kiroku.commands.record(Principal.company("7000012050002"), req)
    assert (err.value.code, err.value.field) == ("negative_amount", "lines[1].payment_amount")
    assert kiroku.keys.scopes() == []
