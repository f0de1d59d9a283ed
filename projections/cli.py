"""Console commands of the read side.

sentiric api                              the REST API, the CDR projector and the webhook
                                          dispatcher, in one process under uvicorn
sentiric projections rebuild              drop the projections, re-project from offset 0,
                                          print the checksum
sentiric projections checksum             the checksum of the tables as they are
sentiric projections webhooks-replay ID   re-deliver the facts parked for a webhook
sentiric replay rebuild                   alias of `sentiric projections rebuild`
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sentiric.plugins import Registry
from sentiric.settings import Settings, get_settings


def _dsn(settings: Settings) -> str:
    """The configured database, or the embedded one (started if it is not running)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from sentiric.database import EmbeddedPostgres

    return EmbeddedPostgres(settings).start()


async def _prepare_topics(settings: Settings) -> None:
    from projections.logtopics import LogTopics
    from sentiric.eventlog.admin import prepare_topics

    await prepare_topics(
        settings, extra=LogTopics().specs(settings.topic_partitions, settings.calls_retention_ms)
    )


def https_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's HTTPS options when the API has a certificate: then only HTTPS is served on api_port
    (a plain HTTP request there fails the handshake), and the session cookie carries Secure
    (projections.web.signin looks at the request's scheme)."""
    if settings.api_tls_cert_file is None or settings.api_tls_key_file is None:
        return {}
    return {"ssl_certfile": str(settings.api_tls_cert_file), "ssl_keyfile": str(settings.api_tls_key_file)}


def run_api(args: argparse.Namespace) -> int:
    import uvicorn

    from projections.api.app import create_app
    from projections.api.services import ApiConfig
    from projections.webhooks import RetryPolicy
    from sentiric.eventlog.connection import client_options, require_access
    from sentiric.exposure import default_token_refusal

    settings = get_settings()
    host = args.host or settings.api_host
    refusal = default_token_refusal(settings, {"the API": host})
    if refusal is not None:  # before anything starts: nothing listens beyond loopback with it
        print(f"sentiric api: {refusal}", file=sys.stderr)
        return 2
    require_access(settings)  # wrong credentials or CA: one clear line, exit 78
    asyncio.run(_prepare_topics(settings))
    config = ApiConfig(
        dsn=_dsn(settings),
        client=client_options(settings),
        admin_token=settings.admin_token.get_secret_value(),
        session_secret=settings.session_secret.get_secret_value() if settings.session_secret else None,
        session_ttl_s=settings.session_ttl_s,
        recordings_root=settings.recordings_root,
        golden_root=settings.golden_root,
        webhook_policy=RetryPolicy(allow_private_targets=settings.webhook_allow_private_targets),
        run_projector=not args.no_projector,
        run_webhooks=not args.no_webhooks,
        write_timeout_s=settings.api_write_timeout_s,
        originate_edge=settings.node_id,
        sample_action_url=settings.sample_action_url,
        listen_grpc=settings.listen_grpc or f"127.0.0.1:{settings.grpc_port}",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=host,
            port=args.port or settings.api_port,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's lines go through the one pipeline (`sentiric.logs`)
            access_log=False,
            **https_options(settings),
        )
    )
    server.run()
    return 0


async def rebuild(settings: Settings) -> str:
    """Drop and re-project everything; prints and returns the checksum (`sentiric projections rebuild`)."""
    from projections import rebuild as rebuild_module

    if settings.database_url is None:
        from pydantic import SecretStr

        settings = settings.model_copy(update={"database_url": SecretStr(_dsn(settings))})
    return await rebuild_module.rebuild(settings)


async def _checksum(settings: Settings) -> str:
    from projections.pool import open_pool
    from projections.rebuild import projection_checksum

    pool = await open_pool(_dsn(settings), max_size=2)
    try:
        digest = await projection_checksum(pool)
    finally:
        await pool.close()
    print(f"checksum {digest}")
    return digest


async def _webhooks_replay(settings: Settings, subscription_id: str) -> int:
    from projections.logtopics import LogTopics
    from projections.pool import open_pool
    from projections.webhooks import RetryPolicy, replay_parked
    from schemas.models import WebhookSubscription
    from sentiric.eventlog.config_view import ConfigView
    from sentiric.eventlog.connection import client_options
    from sentiric.eventlog.producer import EventProducer

    client = client_options(settings)
    topics = LogTopics()
    view = ConfigView()
    follower = asyncio.create_task(view.follow(topics.config, **client))
    pool = await open_pool(_dsn(settings), max_size=2)
    try:
        await view.wait_ready()
        sub = view.get(WebhookSubscription, subscription_id)
        if sub is None:
            print(f"no webhook subscription {subscription_id!r}")
            return 1
        async with EventProducer(**client) as producer:
            result = await replay_parked(
                sub,
                pool=pool,
                client=client,
                topics=topics,
                producer=producer,
                policy=RetryPolicy(allow_private_targets=settings.webhook_allow_private_targets),
            )
        print(f"delivered {result.delivered}, parked again {result.parked}")
        return 0
    finally:
        follower.cancel()
        await pool.close()


def register(registry: Registry) -> None:
    """The read side's plug-in (`sentiric.plugins`): `sentiric api`, `sentiric projections …`,
    `sentiric call` and the alias `sentiric replay rebuild`; the api as a process of `sentiric up`."""
    registry.command(add_parser)
    registry.command(_add_call)
    registry.replay_command(add_replay_rebuild)
    registry.process("api")


def _add_call(sub: Any) -> None:
    from projections import call_cli, token_cli  # httpx only for the command lines that need it

    call_cli.add_parser(sub)
    token_cli.add_parser(sub)


def _rebuild(args: argparse.Namespace) -> int:
    asyncio.run(rebuild(get_settings()))
    return 0


def add_replay_rebuild(replay: Any) -> None:
    rebuild_alias = replay.add_parser("rebuild", help="alias of `sentiric projections rebuild`")
    rebuild_alias.set_defaults(func=_rebuild)


def add_parser(sub: Any) -> None:
    api = sub.add_parser("api", help="REST API + CDR projector + webhook dispatcher")
    api.add_argument("--host", help="default: settings api_host")
    api.add_argument("--port", type=int, help="default: settings api_port (8080)")
    api.add_argument("--no-projector", action="store_true", help="serve only; another process projects")
    api.add_argument("--no-webhooks", action="store_true", help="do not deliver webhooks from this process")
    api.set_defaults(func=run_api)

    proj = sub.add_parser("projections", help="the read models: rebuild, checksum, webhook replay")
    psub = proj.add_subparsers(dest="projections_command", required=True)
    rb = psub.add_parser("rebuild", help="drop the projections, re-project from offset 0, print the checksum")
    rb.set_defaults(func=_rebuild)
    cs = psub.add_parser("checksum", help="print the checksum of the projection tables")
    cs.set_defaults(func=lambda a: asyncio.run(_checksum(get_settings())) and 0)
    wr = psub.add_parser("webhooks-replay", help="re-deliver the facts parked for a webhook subscription")
    wr.add_argument("subscription_id")
    wr.set_defaults(func=lambda a: asyncio.run(_webhooks_replay(get_settings(), a.subscription_id)))
