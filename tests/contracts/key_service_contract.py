"""The KeyService port's contract: one data key per scope, unwrap by id, crypto-shredding."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.errors import KeyErased, NotFound
from ledger.ports import KeyService, ReservingKeyService
from tests.factories import run_in_threads


class KeyServiceContract:
    """Subclass and provide ``make_keys`` (opens the same key service again on each call), and say
    which capabilities the adapter has."""

    #: The optional capability protocols (``ledger.ports``) this adapter implements.
    CAPABILITIES: frozenset[type] = frozenset()

    def test_the_adapter_has_exactly_the_capabilities_it_declares(self, keys: KeyService) -> None:
        assert {cap for cap in (ReservingKeyService,) if isinstance(keys, cap)} == set(self.CAPABILITIES)

    def test_a_reserved_key_is_usable_at_once_and_survives_reopening_once_persisted(
            self, keys: KeyService, make_keys: Callable[[], KeyService]) -> None:
        if not isinstance(keys, ReservingKeyService):
            assert ReservingKeyService not in self.CAPABILITIES
            return
        reserved = keys.reserve("7000012050002|PAYROLL_REPORT|2030")
        assert keys.reserve("7000012050002|PAYROLL_REPORT|2030") == reserved  # one key per scope, reserved or not
        assert keys.key_by_id(reserved.key_id) == reserved.key
        keys.persist({reserved.key_id})
        again = make_keys()
        assert again.key_by_id(reserved.key_id) == reserved.key
        assert again.data_key("7000012050002|PAYROLL_REPORT|2030") == reserved

    def test_threads_reserving_one_new_scope_at_once_get_one_key(self, keys: KeyService) -> None:
        if not isinstance(keys, ReservingKeyService):
            assert ReservingKeyService not in self.CAPABILITIES
            return
        import threading

        for year in range(2030, 2050):  # many rounds: each a fresh scope, eight threads let go together
            scope, got = f"7000012050002|PAYROLL_REPORT|{year}", []
            start = threading.Barrier(8)

            def reserve(_: int, scope: str = scope, got: list = got, start: threading.Barrier = start) -> None:
                start.wait()
                got.append(keys.reserve(scope))

            assert run_in_threads(reserve, threads=8) == []
            assert len(set(got)) == 1, f"{len(set(got))} keys reserved for {scope}"
            keys.persist({got[0].key_id})
            assert keys.data_key(scope) == got[0]

    def test_a_reserved_scope_keeps_its_key_when_another_process_changed_the_key_service(
            self, keys: KeyService, make_keys: Callable[[], KeyService]) -> None:
        if not isinstance(keys, ReservingKeyService):
            assert ReservingKeyService not in self.CAPABILITIES
            return
        reserved = keys.reserve("7000012050002|PAYROLL_REPORT|2030")
        other = make_keys()  # another process stores a key: this one's caches are dropped
        other.data_key("1000011000005|PAYROLL_REPORT|2030")
        assert keys.data_key("7000012050002|PAYROLL_REPORT|2030") == reserved  # not a second key for the scope
        keys.persist({reserved.key_id})
        assert make_keys().data_key("7000012050002|PAYROLL_REPORT|2030") == reserved
        other.close()

    def test_closing_twice_is_harmless(self, make_keys: Callable[[], KeyService]) -> None:
        opened = make_keys()
        opened.close()
        opened.close()

    @pytest.fixture
    def make_keys(self) -> Callable[[], KeyService]:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    @pytest.fixture
    def keys(self, make_keys: Callable[[], KeyService]) -> KeyService:
        return make_keys()

    def test_a_scope_keeps_one_256_bit_data_key(self, keys: KeyService) -> None:
        a = keys.data_key("7000012050002|PAYROLL_REPORT|2026")
        b = keys.data_key("7000012050002|PAYROLL_REPORT|2026")
        assert a == b and len(a.key) == 32
        assert keys.key_by_id(a.key_id) == a.key

    def test_different_scopes_get_different_keys(self, keys: KeyService) -> None:
        a = keys.data_key("7000012050002|PAYROLL_REPORT|2026")
        b = keys.data_key("7000012050002|PAYROLL_REPORT|2027")
        assert a.key_id != b.key_id and a.key != b.key

    def test_keys_survive_reopening(self, keys: KeyService, make_keys: Callable[[], KeyService]) -> None:
        a = keys.data_key("1000011000005|WITHHOLDING_SLIP|2026")
        again = make_keys()
        assert again.key_by_id(a.key_id) == a.key
        assert again.data_key("1000011000005|WITHHOLDING_SLIP|2026") == a

    def test_a_destroyed_key_is_erased_for_good(self, keys: KeyService, make_keys: Callable[[], KeyService]) -> None:
        a = keys.data_key("7000012050002|BONUS_PAYMENT|2026-06-30")
        keys.destroy(a.key_id)
        with pytest.raises(KeyErased) as err:
            keys.key_by_id(a.key_id)
        assert err.value.code == "erased"
        with pytest.raises(KeyErased):
            make_keys().key_by_id(a.key_id)
        with pytest.raises(KeyErased):
            keys.data_key("7000012050002|BONUS_PAYMENT|2026-06-30")
        assert (a.key_id, "7000012050002|BONUS_PAYMENT|2026-06-30", True) in keys.scopes()

    def test_an_unknown_key_id_is_not_found(self, keys: KeyService) -> None:
        with pytest.raises(NotFound) as err:
            keys.key_by_id("lk_nope")
        assert err.value.code == "key_missing"

    def test_threads_asking_for_the_same_scopes_each_get_that_scopes_one_key(self, keys: KeyService) -> None:
        scopes = [f"7000012050002|PAYROLL_REPORT|{year}" for year in range(2020, 2024)]
        seen: list[tuple[str, str, bytes]] = []

        def work(offset: int) -> None:
            for i in range(20):
                scope = scopes[(i + offset) % len(scopes)]
                dk = keys.data_key(scope)
                assert keys.key_by_id(dk.key_id) == dk.key
                seen.append((scope, dk.key_id, dk.key))

        assert run_in_threads(work) == []
        assert len(set(seen)) == len(scopes)  # one key per scope, whoever asked first
