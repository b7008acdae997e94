"""Two ``imagegate serve`` replicas sharing nothing but PostgreSQL, Redis and S3 (moto's server), in front of the
Gemini fake (real prices): keys, budgets, rate limits and image URLs hold across them, and killing one under load
loses nothing from the other's log while retrying clients get their answers."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

import httpx
import pytest
from openai import OpenAI
from sqlalchemy import create_engine, text

from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.conftest import PG_SERVER, _pg_answers
from tests.helpers_s3 import CREDENTIALS, moto_server, new_bucket
from tests.helpers_server import ServerProcess

MASTER = "ig-scale-master-key-0123456789abcdef"
MODEL = "gemini-3-pro-image-preview"
BODY = {"model": MODEL, "prompt": "a lighthouse", "size": "1024x1024", "response_format": "b64_json"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    if reason := _pg_answers():
        pytest.fail(reason)
    schema = f"ig_test_{uuid.uuid4().hex[:12]}"
    admin_engine = create_engine(PG_SERVER)
    with admin_engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db_url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    prefix = f"ig_test_{uuid.uuid4().hex[:10]}"
    work = tmp_path_factory.mktemp("scale")
    fleet = ThreadedFleet(Fleet(workdir=work / "fleet", providers=("gemini",)))
    fleet.start()
    with moto_server(work) as s3:
        env = {
            **fleet.fleet.env(),
            **CREDENTIALS,
            "IMAGEGATE_PLACEHOLDER": "off",
            "IMAGEGATE_MASTER_KEY": MASTER,
            "IMAGEGATE_DATABASE_URL": db_url,
            "IMAGEGATE_REDIS_URL": "redis://127.0.0.1:6379/0",
            "IMAGEGATE_REDIS_PREFIX": prefix,
            "IMAGEGATE_BLOB_URL": f"s3://{new_bucket(s3)}/images",
            "IMAGEGATE_BLOB_ENDPOINT": s3,
            "IMAGEGATE_BLOB_REGION": "us-east-1",
        }
        # each replica has its own data directory: nothing on disk is shared
        a = ServerProcess(work / "a" / "data", env=env)
        b = ServerProcess(work / "b" / "data", env=env)
        try:
            a.wait_ready(60)
            b.wait_ready(60)
            yield {"a": a, "b": b, "db_url": db_url}
        finally:
            a.stop()
            b.stop()
            fleet.stop()
            import redis

            r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
            for key in r.scan_iter(f"{prefix}*"):
                r.delete(key)
            with admin_engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin_engine.dispose()


def make_key(server: ServerProcess, **body) -> dict:  # type: ignore[no-untyped-def]
    r = httpx.post(
        server.url + "/v1/admin/keys", json={"name": "s", **body}, headers={"Authorization": f"Bearer {MASTER}"}
    )
    assert r.status_code == 201, r.text
    return r.json()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def estimate_micros(server: ServerProcess) -> int:
    r = httpx.post(server.url + "/v1/images/generations?dryRun=true", json=BODY, headers=bearer(MASTER))
    return int(r.json()["total_cost_micros"])


def test_a_key_made_on_one_replica_works_on_the_other_at_once(cluster: dict) -> None:
    made = make_key(cluster["a"])
    assert httpx.get(cluster["b"].url + "/v1/models", headers=bearer(made["key"])).status_code == 200


def test_budget_holds_across_replicas_under_200_concurrent_requests(cluster: dict) -> None:
    a, b = cluster["a"], cluster["b"]
    estimate = estimate_micros(a)
    budget_micros = 20 * estimate + estimate // 2
    made = make_key(a, budget={"usd": budget_micros / 1e6, "period": "total"})

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            return await asyncio.gather(
                *(
                    client.post((a if i % 2 else b).url + "/v1/images/generations", json=BODY,
                                headers=bearer(made["key"]))
                    for i in range(200)
                )
            )  # fmt: skip

    answers = asyncio.run(burst())
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 402}, codes
    settled = sum(int(r.headers["X-Imagegate-Cost-Micros"]) for r in answers if r.status_code == 200)
    assert 0 < settled <= budget_micros
    assert codes.count(200) == 20  # each request reserved its estimate: exactly 20 fit
    bal = httpx.get(b.url + "/v1/balance", headers=bearer(made["key"])).json()
    assert bal["spent_usd"] == pytest.approx(settled / 1e6) and bal["reserved_usd"] == 0
    assert bal["spent_usd"] <= bal["budget_usd"]


def test_rate_limits_are_global(cluster: dict) -> None:
    a, b = cluster["a"], cluster["b"]
    made = make_key(a, rate_limits={"requests_per_minute": 10})
    codes = [
        httpx.get((a if i % 2 else b).url + "/v1/models", headers=bearer(made["key"])).status_code for i in range(30)
    ]
    assert codes.count(200) == 10 and codes.count(429) == 20


def test_an_image_url_made_by_one_replica_is_served_by_the_other(cluster: dict) -> None:
    a, b = cluster["a"], cluster["b"]
    r = httpx.post(a.url + "/v1/images/generations", json={**BODY, "response_format": "url"}, headers=bearer(MASTER))
    assert r.status_code == 200, r.text
    url = r.json()["data"][0]["url"]
    assert url.startswith(a.url + "/files/")
    got = httpx.get(b.url + url[len(a.url) :])
    assert got.status_code == 200 and got.content[:8] == b"\x89PNG\r\n\x1a\n"


class Failover(httpx.BaseTransport):
    """A client-side load balancer: each attempt goes to the next replica not seen dead; the SDK's retries do the
    failing over."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = ports
        self._next = itertools.cycle(ports)
        self._lock = threading.Lock()
        self._inner = httpx.HTTPTransport()
        self.answered: list[tuple[int, str]] = []  # (port, request id) of every 200
        self.cut: list[int] = []  # ports of attempts that failed in transport (the killed replica)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            port = next(p for p in self._next if p not in self.cut or set(self.cut) >= set(self._ports))
        request.url = request.url.copy_with(port=port)
        try:
            response = self._inner.handle_request(request)
        except httpx.TransportError:
            with self._lock:
                self.cut.append(port)
            raise
        if response.status_code == 200:
            with self._lock:
                self.answered.append((port, response.headers["X-Imagegate-Request-Id"]))
        return response


def test_killing_a_replica_under_load_loses_nothing(cluster: dict) -> None:
    a, b, total = cluster["a"], cluster["b"], 120
    transport = Failover([a.port, b.port])
    client = OpenAI(
        base_url=a.url + "/v1", api_key=MASTER, max_retries=6, timeout=60, http_client=httpx.Client(transport=transport)
    )

    def one(_: int) -> str:
        res = client.images.with_raw_response.generate(
            model=MODEL, prompt="a lighthouse", size="1024x1024", response_format="b64_json"
        )
        return res.headers["X-Imagegate-Request-Id"]

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(one, i) for i in range(total)]
        for done, _ in enumerate(as_completed(futures), 1):
            if done == 20:
                a.proc.kill()  # SIGKILL: no graceful shutdown, in-flight requests on A are cut
                break
        ids = [f.result() for f in futures]  # every client got its answer
    assert len(ids) == total and len(set(ids)) == total
    assert transport.cut and set(transport.cut) == {a.port}  # A died under load and clients went to B
    from_b = {rid for port, rid in transport.answered if port == b.port}
    assert from_b
    engine = create_engine(cluster["db_url"])
    try:
        deadline = time.monotonic() + 15
        while True:  # B's log writer batches off the request path
            with engine.connect() as conn:
                logged = {row[0] for row in conn.execute(text("SELECT id FROM requests WHERE status = 200"))}
            if from_b <= logged or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # polling for the log writer, not timing a result
    finally:
        engine.dispose()
    assert from_b <= logged  # nothing B answered is missing from the shared log
