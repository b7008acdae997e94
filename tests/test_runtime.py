"""Runtime tuning of served workers (imagegate/runtime.py), each check in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# A gateway-shaped allocation pattern: eight 256 KiB socket reads, the HTTP parser's copies, one 2 MB join.
_FAULTS = textwrap.dedent(
    """
    import resource, sys
    from imagegate.runtime import tune_allocator
    if sys.argv[1] == "tuned":
        assert tune_allocator()
    def once():
        chunks = [bytes([65]) * 262144 for _ in range(8)]
        copies = [c[:-1] for c in chunks]
        return len(b"".join(copies))
    for _ in range(5):
        once()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(100):
        once()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def _run(code: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_allocator_reuses_large_buffers_instead_of_faulting_them_in() -> None:
    untuned = int(_run(_FAULTS, "untuned"))
    tuned = int(_run(_FAULTS, "tuned"))
    # untuned glibc maps and unmaps the 2 MB blocks: ~500 page faults per round
    assert untuned > 100 * 100
    assert tuned < untuned // 100


def test_tuned_gc_freezes_startup_objects_and_raises_the_young_threshold() -> None:
    out = _run(
        "import gc; from imagegate.runtime import tune_gc, GC_GEN0_THRESHOLD as T; default = gc.get_threshold(); "
        "tune_gc(); t = gc.get_threshold(); print(t[0] == T, t[1:] == default[1:], gc.get_freeze_count() > 1000)"
    )
    assert out == "True True True"


def test_runtime_tuning_setting_from_the_environment() -> None:
    from imagegate.settings import Settings

    assert Settings.load(env={}).runtime_tuning is True
    assert Settings.load(env={"IMAGEGATE_RUNTIME_TUNING": "off"}).runtime_tuning is False
    assert Settings.load(env={"IMAGEGATE_RUNTIME_TUNING": "on"}).runtime_tuning is True


@pytest.mark.parametrize(("tune_runtime", "setting", "expected"), [(True, True, 1), (True, False, 0), (False, True, 0)])
def test_only_served_workers_tune_and_only_when_the_setting_allows(
    monkeypatch: pytest.MonkeyPatch, tmp_path, tune_runtime: bool, setting: bool, expected: int
) -> None:
    from starlette.testclient import TestClient

    import imagegate.runtime
    from imagegate.api.app import create_app
    from imagegate.settings import Settings

    calls: list[int] = []
    monkeypatch.setattr(imagegate.runtime, "tune_process", lambda: calls.append(1))

    class Services:
        banner: list[str] = []
        auth = type("Auth", (), {"enabled": False})()

        async def start(self) -> None: ...

        async def aclose(self) -> None: ...

    async def factory(settings: Settings) -> Services:
        return Services()

    settings = Settings.load(env={}, data_dir=tmp_path)
    settings.runtime_tuning = setting
    with TestClient(create_app(settings, services_factory=factory, tune_runtime=tune_runtime)):
        pass
    assert len(calls) == expected
