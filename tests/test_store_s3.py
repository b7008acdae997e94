"""The S3 blob store against moto's S3 server over real HTTP: put, serve from another replica, presign, expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from imagegate.store.blobs import PresignedUrl
from imagegate.store.db import Database, run_migrations, utcnow
from imagegate.store.s3_blobs import S3BlobStore, parse_s3_url
from tests.helpers_s3 import moto_server, new_bucket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/blobs.db"
    run_migrations(url)
    database = Database(url)
    yield database
    database.dispose()


def store(endpoint: str, bucket: str, db: Database, **kw) -> S3BlobStore:  # type: ignore[no-untyped-def]
    return S3BlobStore(
        f"s3://{bucket}/images", db, endpoint=endpoint, region="us-east-1", access_key_id="testing",
        secret_access_key="testing", **kw,
    )  # fmt: skip


async def test_put_then_another_replica_serves_it(endpoint: str, db: Database) -> None:
    bucket = new_bucket(endpoint)
    one, two = store(endpoint, bucket, db), store(endpoint, bucket, db)
    token = await one.put(PNG, "image/png", 3600)
    assert await two.open(token) == (PNG, "image/png")
    key = db.get_blob(token).path  # type: ignore[union-attr]
    assert key.startswith("images/") and key.endswith(token)
    # the object is really in the bucket, with its content type
    listed = httpx.get(f"{endpoint}/{bucket}?list-type=2&prefix=images/").text
    assert token in listed
    assert await two.open("x" * 43) is None and await two.open("../../etc") is None


async def test_presigned_urls_fetch_the_object(endpoint: str, db: Database) -> None:
    bucket = new_bucket(endpoint)
    s3 = store(endpoint, bucket, db, presign=True)
    token = await s3.put(PNG, "image/png", 600)
    found = await s3.open(token)
    assert found is not None and isinstance(found[0], PresignedUrl)
    assert "X-Amz-Signature" in found[0] and "testing" not in found[0].split("X-Amz-Credential")[0]
    got = httpx.get(found[0])
    assert got.status_code == 200 and got.content == PNG
    assert await s3.read(token) == (PNG, "image/png")  # copies (replays, the gallery) still get the bytes


async def test_sweeper_deletes_expired_objects_and_rows(endpoint: str, db: Database) -> None:
    bucket = new_bucket(endpoint)
    s3 = store(endpoint, bucket, db)
    old = await s3.put(PNG, "image/png", 1)
    fresh = await s3.put(PNG, "image/png", 3600)
    assert await s3.delete_expired(utcnow() + timedelta(seconds=5)) == 1
    assert db.get_blob(old) is None and await s3.open(old) is None
    listed = httpx.get(f"{endpoint}/{bucket}?list-type=2").text
    assert old not in listed and fresh in listed


def test_blob_url_form() -> None:
    assert parse_s3_url("s3://bucket/a/b/") == ("bucket", "a/b")
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    with pytest.raises(ValueError):
        parse_s3_url("https://bucket/x")


def test_gateway_redirects_image_urls_to_presigned_s3(endpoint: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers_s3 import CREDENTIALS
    from tests.helpers_server import ServerProcess

    env = {
        **CREDENTIALS,
        "IMAGEGATE_BLOB_URL": f"s3://{new_bucket(endpoint)}/img",
        "IMAGEGATE_BLOB_ENDPOINT": endpoint,
        "IMAGEGATE_BLOB_REGION": "us-east-1",
        "IMAGEGATE_BLOB_PRESIGN": "true",
    }
    proc = ServerProcess(tmp_path / "data", env=env)
    try:
        proc.wait_ready()
        r = httpx.post(proc.url + "/v1/images/generations", json={"model": "nano-banana-pro", "prompt": "x"})
        url = r.json()["data"][0]["url"]
        redirect = httpx.get(url)
        assert redirect.status_code == 307 and redirect.headers["location"].startswith(endpoint + "/")
        image = httpx.get(url, follow_redirects=True)
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert "testing" not in proc.output()  # the S3 secret is never logged
    finally:
        proc.stop()
