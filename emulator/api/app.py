"""The HTTP edge: one aiohttp app serving SageMaker (AWS JSON 1.1) and, through moto, the
other AWS services a SageMaker user needs on the same endpoint.

`create_app` wires routes, the error middleware and the long-lived parts (store, bus, control
plane, local agents) as cleanup contexts, so tests and the CLI build exactly the same server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from emulator import console
from emulator.api import auth, control, dispatch
from emulator.api.aws_services import AWS, AwsServices
from emulator.api.scope import request_scope
from emulator.bus.base import Bus
from emulator.bus.memory import InProcessBus
from emulator.clock import Clock, SystemClock
from emulator.context import CONTEXT, ApiContext
from emulator.errors import (
    EmulatorError,
    InternalFailure,
    RequestEntityTooLarge,
    ServiceUnavailable,
    UnknownOperationException,
)
from emulator.ids import request_id
from emulator.records import JobRecords
from emulator.rules import validation
from emulator.settings import PUBLIC_AGENT_KEY, Settings
from emulator.store.sqlite import Store

log = logging.getLogger(__name__)

JSON_11 = "application/x-amz-json-1.1"

Component = Callable[[web.Application], AsyncIterator[None]]


def error_response(error: EmulatorError, content_type: str = JSON_11) -> web.Response:
    body = json.dumps({"__type": error.code, "message": error.message})
    return web.Response(
        status=error.status,
        body=body.encode(),
        content_type=content_type,
        headers={"x-amzn-requestid": request_id(), "x-amzn-errortype": error.code},
    )


@web.middleware
async def aws_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Domain errors become AWS-shaped JSON once, here; a bug of ours is a 500, never HTML."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except EmulatorError as error:
        return error_response(error)
    except web.HTTPRequestEntityTooLarge:
        return error_response(RequestEntityTooLarge("The request body is too large."))
    except web.HTTPException:
        raise
    except sqlite3.OperationalError as error:
        if "full" not in str(error):
            raise
        log.error("store cannot write: %s", error)
        return error_response(
            ServiceUnavailable(
                "The emulator's data directory is full; nothing was changed. Free some space "
                "and retry."
            )
        )
    except Exception:
        log.exception("internal error serving %s %s", request.method, request.path)
        return error_response(InternalFailure("We encountered an internal error. Try again."))


async def root(request: web.Request) -> web.StreamResponse:
    """Everything AWS-shaped arrives here; the target or the signing scope says which service."""
    target = request.headers.get("X-Amz-Target", "")
    aws = request.app[AWS]
    service = "sagemaker" if target.startswith("SageMaker.") else aws.service_of(request)
    if service not in (None, "sagemaker"):
        return await aws.handle(request, service)
    if request.method != "POST":
        if target:
            raise UnknownOperationException(
                f"SageMaker operations are called with POST /, not {request.method}."
            )
        return control.index(request)
    body = await request.read()
    if len(body) > request.app[CONTEXT].settings.max_body_bytes:
        raise RequestEntityTooLarge(
            f"The request body is {len(body)} bytes; the limit is "
            f"{request.app[CONTEXT].settings.max_body_bytes} bytes."
        )
    ctx = request.app[CONTEXT]
    scoped = ctx.for_scope(request_scope(request.headers, request.query, ctx.default_scope))
    result = await dispatch.dispatch(scoped, target, body)
    if not isinstance(result, bytes):
        result = json.dumps(result, separators=(",", ":")).encode()
    return web.Response(
        body=result,
        content_type=JSON_11,
        headers={"x-amzn-requestid": request_id()},
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    bus: Bus | None = None,
    store: Store | None = None,
    components: list[Component] | None = None,
) -> web.Application:
    """The whole server. `components` are extra long-lived parts (control plane, agents)."""
    clock = clock or SystemClock()
    store = store or Store(settings.db_path)
    context = ApiContext(
        settings=settings,
        store=store,
        bus=bus or InProcessBus(),
        clock=clock,
        records=JobRecords(store, clock, settings.region, settings.account),
    )
    middlewares: list[Any] = [aws_errors]
    if settings.auth == "sigv4":
        middlewares.append(_signature_check(settings, clock))
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes + 1)
    app[CONTEXT] = context
    app[AWS] = AwsServices(
        region=settings.region, account=settings.account, data_dir=settings.data_dir
    )
    control.add_routes(app)
    console.add_routes(app)
    app.router.add_route("*", "/{tail:.*}", root)
    for component in components or []:
        app.cleanup_ctx.append(component)
    app.on_startup.append(_prepare_validation)
    app.on_cleanup.append(_close_store)
    return app


async def _prepare_validation(app: web.Application) -> None:
    """Build every operation's validator, and reload stored S3 objects, before the first request."""
    await asyncio.to_thread(validation.prepare, dispatch.OPERATIONS)
    await asyncio.to_thread(app[AWS].restore_s3)


def _signature_check(settings: Settings, clock: Clock) -> Any:
    """SigV4 verification against the configured keys, plus the private key of our in-process
    agents (which the training programs they run receive; made where the settings are)."""
    if settings.credentials_file is None:
        raise ValueError("--auth sigv4 needs --credentials FILE")
    if settings.agent_credentials == PUBLIC_AGENT_KEY:
        raise ValueError("--auth sigv4 needs a private agent key (settings.private_agent_key)")
    keys = dict(auth.load_credentials(settings.credentials_file))
    keys[settings.agent_credentials[0]] = auth.Key(settings.agent_credentials[1])
    return auth.sigv4_middleware(keys, clock)


async def _close_store(app: web.Application) -> None:
    app[CONTEXT].store.close()
