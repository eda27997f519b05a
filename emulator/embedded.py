"""An emulator inside the current process, on a thread of its own: for test suites and scripts.

    with EmbeddedEmulator(images={"my/image": "python train.py"}) as amt:
        sm = boto3.client("sagemaker", endpoint_url=amt.endpoint, ...)

    with EmbeddedEmulator(simulate="image-classification-cpu", time_scale=1000) as amt:
        ...   # training jobs replay recorded curves; every timestamp is virtual

The server runs its own event loop on a background thread, so code that calls boto3
synchronously (as test suites do) never blocks it.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from emulator.settings import DEFAULT_TIME_SCALE, SIMULATED_SLOTS, Settings
from emulator.testing import free_port, reset_emulator

READY_TIMEOUT = 60.0


class EmbeddedEmulator:
    def __init__(
        self,
        *,
        images: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
        port: int = 0,
        region: str = "us-east-1",
        stop_grace_seconds: float = 5.0,
        simulate: str | None = None,
        time_scale: float = DEFAULT_TIME_SCALE,
        startup_seconds: float = 0.0,
    ) -> None:
        """`simulate`: a recorded curve set; training jobs then replay its curves in virtual
        time, `time_scale` times faster than wall time (as `amt serve --simulate`)."""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="amt-")
            data_dir = Path(self._tmp.name)
        settings = Settings(
            port=port or free_port(),
            data_dir=data_dir,
            images=dict(images or {}),
            region=region,
            stop_grace_seconds=stop_grace_seconds,
            simulate=simulate,
            time_scale=time_scale,
            startup_seconds=startup_seconds,
        )
        self.settings = replace(settings, agent_slots=SIMULATED_SLOTS) if simulate else settings
        self.settings.check_simulation()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="amt")
        self._runner: web.AppRunner | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"

    def client(self, service: str) -> Any:
        """A boto3 client pointed at this emulator, with dummy credentials."""
        import boto3  # noqa: PLC0415 - pytest loads this plugin in every run: the server and boto3 only when the fixture is used

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.settings.region,
            aws_access_key_id="amt-emulator",
            aws_secret_access_key="amt-emulator",
        )

    def reset(self) -> dict[str, Any]:
        """Stop every running job, then remove every job, bucket, log and job directory, as
        moto's `/moto-api/reset` does for its state: the next test starts clean."""
        return reset_emulator(self.endpoint, self.settings.stop_grace_seconds + 60)

    async def _start(self) -> None:
        from emulator.serve import build_app  # noqa: PLC0415 - pytest loads this plugin in every run: the server and boto3 only when the fixture is used

        self._runner = web.AppRunner(build_app(self.settings), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.settings.port).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> EmbeddedEmulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(READY_TIMEOUT)
        return self

    def stop(self) -> None:
        """Stop running training jobs, close the store, end the thread (idempotent)."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(READY_TIMEOUT)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(READY_TIMEOUT)
            self._loop.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
