from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai import OpenAI

from tests.helpers_server import ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("gateway") / "data"
    proc = ServerProcess(
        data_dir,
        env={"IMAGEGATE_MAX_UPLOAD_BYTES": str(3 * 1024 * 1024), "IMAGEGATE_MAX_IMAGE_PIXELS": str(40_000_000)},
    )
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> OpenAI:
    return OpenAI(base_url=server.url + "/v1", api_key="anything", max_retries=0, timeout=30)
