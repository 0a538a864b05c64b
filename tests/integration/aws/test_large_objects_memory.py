"""Large snapshots stream through multipart upload and chunked download with bounded memory.

Production uploads objects from 64 MiB up (≥ 100 MB always) in 16 MiB parts; here the threshold and
parts are 5 MiB (S3's minimum) so that a 40 MiB object shows the same shape quickly. The client
runs in a child process, so tracemalloc sees only the client's allocations — not those of the
moto server, which holds the whole object in this process's memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration.aws.support import REGION, require

require("moto")
require("boto3")

from tests.integration.aws.conftest import unique_bucket  # noqa: E402

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
SIZE_MIB = 40
PART_MIB = 5

CLIENT = textwrap.dedent("""
    import hashlib, json, os, sys, time, tracemalloc
    from ledger.adapters.s3_objects import S3ObjectStore, MIB

    endpoint, bucket, workdir, size_mib, part_mib = sys.argv[1:6]
    store = S3ObjectStore.from_url(f"s3://{bucket}?region=%(region)s&endpoint={endpoint}"
                                   f"&part_mb={part_mib}&multipart_mb={part_mib}")
    src, dst = os.path.join(workdir, "big.bin"), os.path.join(workdir, "back.bin")
    digest = hashlib.sha256()
    with open(src, "wb") as fh:  # a file larger than anything the client may hold in memory
        block = os.urandom(MIB)
        for i in range(int(size_mib)):
            chunk = i.to_bytes(4, "big") + block[4:]
            fh.write(chunk)
            digest.update(chunk)
    name = digest.hexdigest()
    key = f"snapshots/{name[:2]}/{name[2:4]}/{name}.avro"
    until = int((time.time() + 86400 * 365) * 1_000_000)
    store.put_immutable("snapshots/warm-up.bin", b"warm up")  # imports and connections, outside the measure

    def peak_growth(action):
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - base

    tracemalloc.start()
    out = {}
    with open(src, "rb") as fh:
        out["upload"] = peak_growth(lambda: store.put_stream(key, fh, retain_until_us=until))
    with open(dst, "wb") as fh:
        out["download"] = peak_growth(lambda: store.get_to(key, fh))
    with open(src, "rb") as fh:
        whole = fh.read()  # the port's put_immutable takes bytes: they are in memory already
    out["upload_bytes"] = peak_growth(lambda: store.put_immutable("exports/from-bytes.bin", whole, retain_until_us=until))
    del whole
    with open(dst, "rb") as fh:
        back = hashlib.sha256()
        for chunk in iter(lambda: fh.read(MIB), b""):
            back.update(chunk)
    out["round_trip"] = back.hexdigest() == name
    out["lock"] = store.lock_status(key)[0]
    print(json.dumps(out))
""") % {"region": REGION}


def test_a_large_snapshot_streams_up_and_down_with_memory_bounded_by_a_few_parts(moto_endpoint: str, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, moto_endpoint, unique_bucket(), str(tmp_path), str(SIZE_MIB), str(PART_MIB)],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["round_trip"] is True and seen["lock"] == "COMPLIANCE"
    bound = 3 * PART_MIB * MIB  # a part being read, the one being sent, and slack — never the whole 40 MiB
    assert seen["upload"] < bound, f"upload peak grew by {seen['upload'] / MIB:.1f} MiB"
    assert seen["upload_bytes"] < bound, f"upload from bytes peak grew by {seen['upload_bytes'] / MIB:.1f} MiB"
    assert seen["download"] < 4 * MIB, f"download peak grew by {seen['download'] / MIB:.1f} MiB"
