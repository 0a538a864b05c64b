"""The composition root: builds Kiroku's object graph from settings, and nothing else does.

Adapters are picked by URL scheme. Nothing connects at import time; ``open_kiroku`` is the one
place where files are opened and connections made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.adapters.writer_lock import WriterLock
from ledger.catalog.tables import Catalog
from ledger.domain.model import utcnow
from ledger.encoding.codec import SchemaRegistry
from ledger.encoding.events import EventCodec
from ledger.errors import ConfigurationError
from ledger.integrity import exposure_findings, startup_check
from ledger.ports import KeyService, Log, ObjectStore
from ledger.private_files import private_dir, private_sqlite
from ledger.processors.notifier import Notifier
from ledger.processors.projector import Projector
from ledger.processors.runner import Processors
from ledger.service.access import AccessLog
from ledger.service.commands import Commands
from ledger.service.queries import Queries
from ledger.service.sealing import Sealer
from ledger.settings import Settings, load_settings
from ledger.transparency.notary import Transparency
from ledger.transparency.sequencer import Sequencer


def make_log(settings: Settings) -> Log:
    url = settings.log_url
    if url.startswith("sqlite:///"):
        from ledger.adapters.sqlite_log import SqliteLog

        return SqliteLog.from_url(url, settings.partitions)
    if url.startswith("kafka://"):
        from ledger.adapters.kafka_log import KafkaLog

        return KafkaLog.from_url(url, settings.partitions)
    raise ConfigurationError(f"KIROKU_LOG={url}: no log adapter for this URL", field="KIROKU_LOG",
                             expected="sqlite:///PATH or kafka://HOST:PORT[,HOST:PORT]", got=url, code="adapter_unavailable")


def require_catalog_driver(settings: Settings) -> None:
    """A PostgreSQL catalog needs psycopg (the ``postgres`` extra); say so, naming the setting,
    instead of SQLAlchemy's traceback."""
    import importlib.util

    if settings.catalog_url.startswith("postgresql+psycopg://") and importlib.util.find_spec("psycopg") is None:
        raise ConfigurationError("KIROKU_CATALOG=postgresql+psycopg://… needs psycopg: pip install 'kiroku-ledger[postgres]'",
                                 field="KIROKU_CATALOG", expected="psycopg installed", got="not installed",
                                 code="adapter_unavailable")


def make_objects(settings: Settings) -> ObjectStore:
    url = settings.objects_url
    if url.startswith("file://"):
        from ledger.adapters.local_objects import LocalObjectStore

        return LocalObjectStore.from_url(url)
    if url.startswith("s3://"):
        from ledger.adapters.aws_urls import require_boto3

        require_boto3("KIROKU_OBJECTS", url)
        from ledger.adapters.s3_objects import S3ObjectStore

        return S3ObjectStore.from_url(url)
    raise ConfigurationError(f"KIROKU_OBJECTS={url}: expected file:///DIR or s3://BUCKET?region=…",
                             field="KIROKU_OBJECTS", expected="file:///DIR or s3://BUCKET", got=url, code="bad_setting")


def make_keys(settings: Settings) -> KeyService:
    url = settings.keys_url
    if url.startswith("local://"):
        from ledger.adapters.local_keyring import LocalKeyring

        return LocalKeyring.from_url(url)
    if url.startswith("aws-kms://"):
        from ledger.adapters.aws_urls import require_boto3

        require_boto3("KIROKU_KEYS", url)
        from ledger.adapters.kms_keys import KmsKeyService

        return KmsKeyService.from_url(url, objects_url=settings.objects_url)
    raise ConfigurationError(f"KIROKU_KEYS={url}: expected local:///DIR or aws-kms://KEY-ID?region=…",
                             field="KIROKU_KEYS", expected="local:///DIR or aws-kms://KEY-ID", got=url, code="bad_setting")


def make_transparency(settings: Settings, log: Log, sequencer: Sequencer, codec: EventCodec, registry: SchemaRegistry,
                      catalog: Catalog, access: AccessLog, clock: Callable[[], datetime]) -> Transparency:
    """Checkpoints signed with the key at ``$KIROKU_HOME/signing.key``, kept in ``checkpoints.db``."""
    from ledger.adapters.sqlite_checkpoints import SqliteCheckpointStore
    from ledger.transparency.signer import LocalSigner, is_valid_key_name

    if not is_valid_key_name(settings.deployment):
        raise ConfigurationError(f"KIROKU_DEPLOYMENT={settings.deployment!r} names the checkpoint signing key and must "
                                 "have no spaces or '+'", field="KIROKU_DEPLOYMENT", expected="e.g. kiroku.example.jp",
                                 got=settings.deployment, code="bad_setting")
    signer = LocalSigner.open(settings.home / "signing.key", settings.deployment)
    store = SqliteCheckpointStore(settings.home / "checkpoints.db")
    return Transparency(log, sequencer, signer, store, settings.deployment, codec, registry, catalog, access,
                        clock=clock, every=settings.checkpoint_every)


@dataclass
class Kiroku:
    """Everything a deployment is made of, wired. Use ``commands`` to change and ``queries`` to read."""

    settings: Settings
    registry: SchemaRegistry
    log: Log
    catalog: Catalog
    objects: ObjectStore
    keys: KeyService
    codec: EventCodec
    processors: Processors
    commands: Commands
    queries: Queries
    transparency: Transparency  # checkpoints, proofs, deadline seals
    findings: list[str] = field(default_factory=list)  # what the start-up integrity check reported
    writer_lock: WriterLock | None = None  # held while open by an embedded recorder (see open_kiroku)
    closed: bool = False

    def close(self) -> None:
        """Close every store and give the data directory up (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.queries.access.flush(everything=True)  # the denials this process counted but has not summed up yet
        finally:
            self.transparency.close()
            self.log.close()
            self.catalog.close()
            self.keys.close()
            if self.writer_lock is not None:
                self.writer_lock.release()

    def __enter__(self) -> Kiroku:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def embedded_files(settings: Settings) -> list[Path]:
    """The files and directories of the embedded stores, wherever the settings put them."""
    paths = [settings.home / name for name in ("checkpoints.db", "principals.db", "trees", "writer.lock")]
    for url in (settings.log_url, settings.catalog_url):
        if url.startswith(("sqlite:///", "sqlite+pysqlite:///")):
            paths.append(Path(url.split(":///", 1)[1]))
    if settings.objects_url.startswith("file://"):
        paths.append(Path(settings.objects_url.removeprefix("file://")))
    if settings.keys_url.startswith("local://"):
        from ledger.adapters.local_keyring import parse_local_keys_url

        root, _ = parse_local_keys_url(settings.keys_url)
        paths += [root, root / "keyring.db"]
    return paths


def is_embedded(settings: Settings) -> bool:
    """Whether the log is the data directory's own SQLite file (one recorder), not Kafka (many)."""
    return settings.log_url.startswith("sqlite:///")


def open_kiroku(settings: Settings | None = None, *, clock: Callable[[], datetime] = utcnow, recorder: bool = True,
                **overrides: Any) -> Kiroku:
    """Open (creating if needed) the deployment the settings describe, built in plain order.

    A ``recorder`` (the default: anything that runs the service layer's commands — the HTTP API,
    the SDK, the CLI) of an embedded deployment holds ``$KIROKU_HOME/writer.lock`` until closed:
    a second one on the same directory is refused (Conflict ``data_directory_in_use``, naming the
    holder) instead of deciding beside it. ``kiroku process --role …`` opens with
    ``recorder=False``: processors only apply what the log already holds, idempotently, and SQLite
    serialises their writes; they run beside the recorder by design. On Kafka there is no lock.
    """
    settings = settings or load_settings(**overrides)
    private_dir(settings.home)
    private_sqlite(settings.home / "principals.db")  # the HTTP API's token store, made 0600 before it is first used
    lock = WriterLock.acquire(settings.home) if recorder and is_embedded(settings) else None
    try:
        kiroku = _build(settings, clock)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    kiroku.writer_lock = lock
    if settings.inline_processing:
        try:
            kiroku.processors.catch_up()  # finish whatever a crash left unprocessed
        except BaseException:
            kiroku.close()
            raise
    return kiroku


def _build(settings: Settings, clock: Callable[[], datetime]) -> Kiroku:
    registry = SchemaRegistry.load()
    codec = EventCodec(registry)
    require_catalog_driver(settings)
    log = make_log(settings)
    catalog = Catalog(settings.catalog_url)
    objects = make_objects(settings)
    keys = make_keys(settings)
    sealer = Sealer(keys, registry)

    def sequenced() -> None:
        # After each sequencer pass the notary publishes checkpoints and seals. The notary reads
        # the sequencer's trees and records proofs through the access log, which runs the
        # processors: the one loop in the graph, closed here by name (``transparency`` is bound
        # below, before anything can append).
        transparency.tick()

    sequencer = Sequencer(log, private_dir(settings.home / "trees"), listeners=[sequenced])
    processors = Processors(Notifier(log, codec), Projector(log, catalog, codec, registry, objects), sequencer)
    after = processors.catch_up if settings.inline_processing else None
    access = AccessLog(log, codec, after_append=after, clock=clock)
    transparency = make_transparency(settings, log, sequencer, codec, registry, catalog, access, clock)
    queries = Queries(registry, sealer, catalog, objects, access, seal_for=transparency.seal_reference, clock=clock)
    commands = Commands(log, codec, registry, sealer, catalog, access, after_append=after, clock=clock)
    findings = startup_check(log, objects, catalog) + exposure_findings(settings.home, embedded_files(settings))
    return Kiroku(settings, registry, log, catalog, objects, keys, codec, processors, commands, queries, transparency, findings)
