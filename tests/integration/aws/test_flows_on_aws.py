"""The core's end-to-end flows, re-run on the scale-out storage: ``KIROKU_OBJECTS=s3://…`` and
``KIROKU_KEYS=aws-kms://…`` against moto's server on a loopback port.

The tests are the core's own, imported (not copied): pytest collects them here, where this
folder's ``kiroku`` fixture (conftest.py) opens Kiroku on S3 + KMS, and ``aws_deployment`` sets the
two settings for the tests that open Kiroku themselves (reopening, crash recovery, replay).
The subset covers each flow: recording and receipts for every procedure, notices routed per
line, personal numbers shown / masked / erased, corrections as of any time, dispositions,
idempotency, access records, crash recovery and replay.
"""

from __future__ import annotations

import pytest

from tests.integration.aws.support import require

require("moto")
require("boto3")

from tests.integration.test_flows_authz import (  # noqa: E402,F401
    test_a_denied_read_is_recorded_in_the_owners_access_log,
)
from tests.integration.test_flows_corrections import (  # noqa: E402,F401
    test_a_correction_chain_is_kept_whole_in_order,
    test_the_version_in_force_is_answered_as_of_any_time,
)
from tests.integration.test_flows_dispositions import (  # noqa: E402,F401
    test_a_municipality_sends_special_collection_amounts_based_on_a_submission,
    test_a_pension_office_sends_a_standard_remuneration_decision,
)
from tests.integration.test_flows_idempotency import (  # noqa: E402,F401
    test_recording_again_with_the_same_key_and_body_returns_the_original_receipt_and_appends_nothing,
)
from tests.integration.test_flows_notices import (  # noqa: E402,F401
    test_a_payroll_report_notifies_each_municipality_of_only_its_own_residents_lines,
    test_after_a_crash_before_processing_the_processors_resume_with_nothing_lost_or_repeated,
)
from tests.integration.test_flows_personal_data import (  # noqa: E402,F401
    test_a_bank_sees_personal_numbers_masked_and_cannot_be_granted_them,
    test_destroying_the_data_key_erases_the_personal_numbers_while_the_digest_still_verifies,
    test_the_company_sees_its_personal_numbers_and_the_legal_basis_agency_its_residents,
)
from tests.integration.test_flows_recording import (  # noqa: E402,F401
    test_a_recorded_submission_gets_a_receipt_that_points_at_its_log_record,
    test_every_procedure_records_a_valid_payload_for_its_kind_of_period,
)
from tests.integration.test_replay import (  # noqa: E402,F401
    test_replaying_the_log_into_an_empty_catalog_gives_the_live_catalog,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("aws_deployment")]


def test_these_flows_really_ran_on_s3_and_kms(kiroku) -> None:  # type: ignore[no-untyped-def]
    """Guards the fixture wiring above: the deployment is S3 + KMS, not the embedded default."""
    from ledger.adapters.kms_keys import KmsKeyService
    from ledger.adapters.s3_objects import S3ObjectStore

    assert isinstance(kiroku.objects, S3ObjectStore) and isinstance(kiroku.keys, KmsKeyService)
    assert not (kiroku.settings.home / "objects").exists() and not (kiroku.settings.home / "keyring").exists()
