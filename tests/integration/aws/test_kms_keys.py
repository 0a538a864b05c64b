"""KmsKeyService: the KeyService contract on KMS (moto in-process and over HTTP), envelope
encryption details, the wrapped-key store, the plaintext cache, and what shredding leaves behind."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import run_in_threads
from tests.integration.aws.support import REGION, require

require("moto")
require("boto3")

from ledger.adapters.kms_keys import KmsKeyService, key_id_for  # noqa: E402
from ledger.errors import ConfigurationError, KeyErased  # noqa: E402
from tests.contracts.key_service_contract import KeyServiceContract  # noqa: E402
from tests.integration.aws.conftest import boto, unique_bucket  # noqa: E402

pytestmark = pytest.mark.integration

SCOPE = "7000012050002|PAYROLL_REPORT|2026"


def kms_url(key: str, bucket: str, endpoint: str | None, **extra: str) -> str:
    params = {"region": REGION, "store": f"s3://{bucket}/data-keys/", **extra}
    if endpoint:
        params.update(endpoint=endpoint, store_endpoint=endpoint)
    return f"aws-kms://{key}?" + "&".join(f"{k}={v}" for k, v in params.items())


class TestKmsKeysInProcess(KeyServiceContract):
    @pytest.fixture
    def make_keys(self, in_process_aws: None) -> Callable[..., KmsKeyService]:
        key = boto("kms").create_key()["KeyMetadata"]["KeyId"]
        url = kms_url(key, unique_bucket(), None)
        return lambda **kwargs: KmsKeyService.from_url(url, **kwargs)


class TestKmsKeysOverHttp(KeyServiceContract):
    @pytest.fixture
    def make_keys(self, moto_endpoint: str) -> Callable[..., KmsKeyService]:
        kms = boto("kms", moto_endpoint)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=f"alias/{unique_bucket()}", TargetKeyId=key)
        url = kms_url(key, unique_bucket(), moto_endpoint)
        return lambda **kwargs: KmsKeyService.from_url(url, **kwargs)

    def record(self, keys: KmsKeyService, key_id: str) -> dict[str, Any]:
        body = keys.s3.get_object(Bucket=keys.bucket, Key=f"{keys.prefix}{key_id}.json")["Body"].read()
        return json.loads(body)

    def test_the_wrapped_key_is_stored_bound_to_its_scope_and_the_plaintext_is_not(self, keys: KmsKeyService, moto_endpoint: str) -> None:
        dk = keys.data_key(SCOPE)
        assert dk.key_id == key_id_for(SCOPE)
        rec = self.record(keys, dk.key_id)
        assert rec["scope"] == SCOPE and rec["kms_key"].endswith(keys.master_key) and rec["destroyed_us"] is None
        wrapped = base64.b64decode(rec["wrapped"])
        assert dk.key not in wrapped and base64.b64encode(dk.key).decode() not in json.dumps(rec)
        kms = boto("kms", moto_endpoint)
        context = {"kiroku:key_id": dk.key_id, "kiroku:scope": SCOPE}
        assert kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=context)["Plaintext"] == dk.key
        with pytest.raises(kms.exceptions.InvalidCiphertextException):  # not under another scope's name
            kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={**context, "kiroku:scope": "1000011000005|PAYROLL_REPORT|2026"})

    def test_shredding_leaves_one_tombstone_and_no_version_holding_the_wrapped_key(self, keys: KmsKeyService) -> None:
        dk = keys.data_key(SCOPE)
        keys.destroy(dk.key_id)
        keys.destroy(dk.key_id)  # again: nothing more to do, no error
        [(version, is_marker)] = keys.stored_versions(dk.key_id)
        assert not is_marker
        tomb = self.record(keys, dk.key_id)
        assert tomb["wrapped"] is None and tomb["destroyed_us"] is not None and tomb["scope"] == SCOPE
        raw = keys.s3.list_object_versions(Bucket=keys.bucket, Prefix=keys.prefix)
        records = [v for v in raw.get("Versions", []) if v["Key"] != f"{keys.prefix}_shredded"]
        assert [v["VersionId"] for v in records] == [version] and not raw.get("DeleteMarkers")
        marker = json.loads(keys.s3.get_object(Bucket=keys.bucket, Key=f"{keys.prefix}_shredded")["Body"].read())
        assert list(marker) == ["shredded_us"]  # the marker that tells other processes: a time, no key

    def test_a_second_process_creating_the_same_scope_uses_the_key_stored_first(self, make_keys: Callable[[], KmsKeyService]) -> None:
        first, second = make_keys(), make_keys()
        winner = first.data_key(SCOPE)
        real_load, looks = second._load, []

        def stale_then_real(key_id: str) -> Any:
            looks.append(key_id)  # the second process's first look happened before the first stored its key…
            return None if len(looks) == 1 else real_load(key_id)

        second._load = stale_then_real  # type: ignore[method-assign]
        generated: list[str] = []
        second.kms.meta.events.register("before-call.kms.GenerateDataKey", lambda **_: generated.append("GenerateDataKey"))
        assert second.data_key(SCOPE) == winner  # …its conditional write is refused, and it adopts the stored key
        assert generated == ["GenerateDataKey"] and len(looks) == 2

    def test_plaintext_keys_are_cached_briefly_then_unwrapped_again(self, make_keys: Callable[..., KmsKeyService]) -> None:
        key_id = make_keys().data_key(SCOPE).key_id
        now = [0.0]
        keys = make_keys(monotonic=lambda: now[0])
        decrypts = decrypt_calls(keys)
        keys.key_by_id(key_id)
        keys.key_by_id(key_id)
        assert len(decrypts) == 1
        now[0] += keys.cache_seconds - 0.5  # reading does not extend its time
        keys.key_by_id(key_id)
        assert len(decrypts) == 1
        now[0] += 0.5  # cache_seconds after it was unwrapped
        keys.key_by_id(key_id)
        assert len(decrypts) == 2
        keys.close()  # closing forgets every plaintext key
        keys.key_by_id(key_id)
        assert len(decrypts) == 3

    def test_a_key_shredded_by_another_process_leaves_this_ones_cache_within_revalidate_seconds(
            self, make_keys: Callable[..., KmsKeyService]) -> None:
        # Issue 14, item 6: a running server must not keep showing a number `kiroku retention run`
        # erased elsewhere for cache_seconds (300 s) — only for revalidate_seconds (1 s) at most.
        now = [0.0]
        server = make_keys(monotonic=lambda: now[0])
        dk = server.data_key(SCOPE)
        other = server.data_key("7000012050002|PAYROLL_REPORT|2025")
        assert server.key_by_id(dk.key_id) == dk.key  # cached in the server's memory
        retention = make_keys()  # another process
        retention.destroy(dk.key_id)
        now[0] += server.revalidate_seconds - 0.01  # not looked yet: served from memory, as documented
        assert server.key_by_id(dk.key_id) == dk.key
        now[0] += 0.01
        with pytest.raises(KeyErased) as err:
            server.key_by_id(dk.key_id)
        assert (err.value.code, err.value.field, err.value.got) == ("erased", "key_id", dk.key_id)
        assert server.key_by_id(other.key_id) == other.key  # the other scopes are unwrapped again, not lost
        decrypts = decrypt_calls(server)
        now[0] += server.revalidate_seconds  # nothing shredded since: the cache stays
        assert server.key_by_id(other.key_id) == other.key and decrypts == []

    def test_a_key_unwrapped_while_another_process_shreds_it_is_not_cached(self, make_keys: Callable[..., KmsKeyService]) -> None:
        now = [0.0]
        server = make_keys(monotonic=lambda: now[0])
        dk = server.data_key(SCOPE)
        server.clear_cache()
        server.key_by_id(server.data_key("1000011000005|PAYROLL_REPORT|2026").key_id)  # looked at the marker now
        retention = make_keys()
        real_unwrap = server._unwrap

        def unwrap_then_shredded(record: dict[str, Any]) -> bytes:  # the record was read before the tombstone…
            key = real_unwrap(record)
            retention.destroy(dk.key_id)  # …and the key shredded while KMS answered
            now[0] += server.revalidate_seconds
            server._revalidate()  # another thread of the server looks at the marker meanwhile
            return key

        server._unwrap = unwrap_then_shredded  # type: ignore[method-assign]
        assert server.key_by_id(dk.key_id) == dk.key  # this one read raced the shredding…
        server._unwrap = real_unwrap  # type: ignore[method-assign]
        with pytest.raises(KeyErased):  # …but its key was not kept
            server.key_by_id(dk.key_id)

    def test_the_plaintext_cache_is_bounded_forgetting_the_least_recently_used_key(
            self, make_keys: Callable[..., KmsKeyService]) -> None:
        scopes = [f"7000012050002|PAYROLL_REPORT|{year}" for year in (2024, 2025, 2026)]
        ids = [make_keys().data_key(scope).key_id for scope in scopes]
        keys = make_keys(cache_entries=2)
        decrypts = decrypt_calls(keys)
        keys.key_by_id(ids[0])
        keys.key_by_id(ids[1])
        keys.key_by_id(ids[0])  # the first is now the more recently used
        keys.key_by_id(ids[2])  # … so the second is forgotten
        assert len(decrypts) == 3
        keys.key_by_id(ids[0])
        assert len(decrypts) == 3
        keys.key_by_id(ids[1])
        assert len(decrypts) == 4

    def test_threads_sharing_a_small_cache_get_the_right_keys_without_errors(
            self, make_keys: Callable[..., KmsKeyService]) -> None:
        scopes = [f"7000012050002|BONUS_PAYMENT|2026-0{month}-25" for month in range(1, 5)]
        expected = {scope: make_keys().data_key(scope) for scope in scopes}
        keys = make_keys(cache_entries=2)  # fewer entries than scopes: evictions race with reads

        def work(offset: int) -> None:
            for i in range(25):
                scope = scopes[(i + offset) % len(scopes)]
                assert keys.data_key(scope) == expected[scope]
                assert keys.key_by_id(expected[scope].key_id) == expected[scope].key

        assert run_in_threads(work) == []


def decrypt_calls(keys: KmsKeyService) -> list[str]:
    """The KMS Decrypt calls ``keys`` makes from now on (each unwrap of a key not in its cache)."""
    calls: list[str] = []
    keys.kms.meta.events.register("before-call.kms.Decrypt", lambda **_: calls.append("Decrypt"))
    return calls


def test_a_disabled_master_key_is_refused_at_start(moto_endpoint: str) -> None:
    kms = boto("kms", moto_endpoint)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key)
    with pytest.raises(ConfigurationError) as err:
        KmsKeyService.from_url(kms_url(key, unique_bucket(), moto_endpoint))
    assert (err.value.code, err.value.field) == ("kms_key_unusable", "KIROKU_KEYS")


def test_a_missing_master_key_is_refused_at_start_naming_the_setting(moto_endpoint: str) -> None:
    with pytest.raises(ConfigurationError) as err:
        KmsKeyService.from_url(kms_url("alias/no-such-key", unique_bucket(), moto_endpoint))
    assert (err.value.code, err.value.field, err.value.retriable) == ("kms_key_missing", "KIROKU_KEYS", False)


def test_a_key_store_that_locks_objects_by_default_is_refused(moto_endpoint: str) -> None:
    s3 = boto("s3", moto_endpoint)
    bucket = unique_bucket()
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 7}}})
    key = boto("kms", moto_endpoint).create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ConfigurationError) as err:
        KmsKeyService.from_url(kms_url(key, bucket, moto_endpoint))
    assert (err.value.code, err.value.field) == ("key_store_locked", "KIROKU_KEYS")


def test_without_an_s3_object_store_the_key_store_must_be_named(home: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger.bootstrap import make_keys
    from ledger.settings import load_settings

    for key in [k for k in __import__("os").environ if k.startswith("KIROKU_")]:
        monkeypatch.delenv(key)
    settings = load_settings(home=home, keys=f"aws-kms://alias/kiroku?region={REGION}")
    with pytest.raises(ConfigurationError) as err:
        make_keys(settings)
    assert (err.value.code, err.value.field) == ("bad_setting", "KIROKU_KEYS")
    assert "store=s3://" in err.value.message


def test_an_erased_scope_cannot_seal_new_data(in_process_aws: None) -> None:
    key = boto("kms").create_key()["KeyMetadata"]["KeyId"]
    keys = KmsKeyService.from_url(kms_url(key, unique_bucket(), None, cache_seconds="0"))
    keys.destroy(keys.data_key(SCOPE).key_id)
    with pytest.raises(KeyErased) as err:
        keys.data_key(SCOPE)
    assert (err.value.code, err.value.field) == ("erased", SCOPE)
