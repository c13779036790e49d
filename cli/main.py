"""The ``ledger`` command line."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from collections.abc import Callable

from cli.startup import check_database_keys, settings_for
from ledger.settings import Settings, SettingsError, settings_table

EXIT_OK, EXIT_UNHEALTHY, EXIT_USAGE = 0, 1, 2

# Modules that add their own subcommands: each has ``register(add)``, where
# ``add(name, handler, help) -> ArgumentParser`` and ``handler(settings, args) -> int``.
COMMAND_MODULES: tuple[str, ...] = (
    "cli.seal",
    "cli.verify",
    "cli.admin",
    "cli.tokens",
    "cli.projections",
    "cli.witness",
    "cli.dsar",
    "cli.portal",
    "cli.retention",
)


# Libraries whose debug logs quote what passes through them (kafka-python logs record
# values and fetched bytes): never below WARNING, whatever LEDGER_LOG_LEVEL says, so no
# submission's bytes (raw identifiers) reach a log.
QUIET_LIBRARIES = ("kafka", "urllib3", "httpcore", "httpx")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(logging.WARNING)


def _run(settings: Settings, args: argparse.Namespace) -> int:
    from cli.processes import stop_on_signals
    from cli.supervisor import supervise
    from ledger.keyring import create_dev_secret

    create_dev_secret(settings)  # once, before any child reads it
    # Children get 15 s each to stop, then the servers stop: a generous deadline.
    return supervise(settings, demo=args.demo, stop=stop_on_signals(grace=120))


def _serve_postgres(settings: Settings, _: argparse.Namespace) -> int:
    from cli.processes import stop_on_signals
    from infra.postgres import EmbeddedPostgres

    stop = stop_on_signals(grace=60)  # a server's own clean stop (checkpoint) comes first
    pg = EmbeddedPostgres(settings.home / "pgdata", port=settings.embedded_pg_port)
    print(f"LEDGER_DATABASE_URL={pg.start()}", flush=True)
    try:
        stop.wait()
    finally:
        pg.stop()
    return EXIT_OK


def _serve_broker(settings: Settings, _: argparse.Namespace) -> int:
    from cli.processes import stop_on_signals
    from infra.broker import EmbeddedBroker

    stop = stop_on_signals(grace=60)  # a server's own clean stop (checkpoint) comes first
    broker = EmbeddedBroker(port=settings.embedded_kafka_port)
    bootstrap = broker.start()
    from infra.topics import ensure_topics

    ensure_topics(bootstrap, settings.topic_partitions)
    print(f"LEDGER_KAFKA_BOOTSTRAP={bootstrap}", flush=True)
    try:
        stop.wait()
    finally:
        broker.stop()
    return EXIT_OK


# ledger.database_roles.ROLES (not imported here: ``--help`` stays quick).
ROLE_NAMES = ("writer", "sealer", "projector", "publisher", "api")


def _init(settings: Settings, _: argparse.Namespace) -> int:
    from cli.supervisor import prepare
    from ledger.keyring import create_dev_secret

    create_dev_secret(settings)
    prepare(settings)
    from ledger import database_roles

    names = [database_roles.role_name(settings.database_url, r) for r in database_roles.ROLES]
    made = f"; database roles {', '.join(names)}" if database_roles.enabled(settings) else ""
    print(f"tables and topics are ready{made}")
    return EXIT_OK


def _database_url(settings: Settings, args: argparse.Namespace) -> int:
    from ledger import database_roles

    if not database_roles.enabled(settings):
        print(
            "ledger: LEDGER_DATABASE_ROLES is off: every process uses LEDGER_DATABASE_URL",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(database_roles.role_url(settings, args.role))
    return EXIT_OK


def _doctor(settings: Settings, _: argparse.Namespace) -> int:
    from cli.startup import secret_health
    from infra.health import check_broker, check_postgres

    results = [
        check_postgres(settings.database_url),
        check_broker(settings.kafka_bootstrap, settings.topic_partitions),
        secret_health(settings),
    ]
    for result in results:
        mark = "ok  " if result.healthy else "FAIL"
        print(f"{result.component:<11} {mark} {result.target}  {result.detail}")
    healthy = all(r.healthy for r in results)
    if results[0].healthy:
        healthy = _pipeline(settings) and healthy
    return EXIT_OK if healthy else EXIT_UNHEALTHY


def _pipeline(settings: Settings) -> bool:
    """Print each process's and each stage's state; whether all are healthy."""
    import psycopg

    from projections.views import pipeline

    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
        report = pipeline(conn, settings)
    for finding in report.findings:
        mark = "ok  " if finding.healthy else "FAIL"
        print(f"{'pipeline':<11} {mark} {finding.part}  {finding.detail}")
    return report.healthy


def _demo(settings: Settings, _: argparse.Namespace) -> int:
    from cli.demo import load_demo

    load_demo(settings, f"http://{settings.api_host}:{settings.api_port}")
    return EXIT_OK


Handler = Callable[[Settings, argparse.Namespace], int]


def _process(name: str) -> Handler:
    def run(settings: Settings, _: argparse.Namespace) -> int:
        from cli import processes

        return int(getattr(processes, name)(settings))

    return run


def _settings(_: Settings, __: argparse.Namespace) -> int:
    print(settings_table())
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description="Audit and consent ledger for public sector data sharing. Settings come "
        "from LEDGER_* environment variables (see `ledger settings`).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    run = add("run", _run, "Run everything (embedded PostgreSQL and broker unless configured)")
    run.add_argument("--no-demo", dest="demo", action="store_false", help="skip the demo data")
    add("ingest", _process("run_ingest"), "Run one ingest worker (ledger.submissions -> ledger)")
    add(
        "publish",
        _process("run_publisher"),
        "Run the outbox publisher (committed events -> ledger.events, refusals -> ledger.rejected)",
    )
    add("project", _process("run_projector"), "Run the projection runner (ledger -> views)")
    add("api", _process("run_api"), "Serve the HTTP API")
    add("postgres", _serve_postgres, "Run the embedded PostgreSQL alone, until Ctrl-C")
    add("broker", _serve_broker, "Run the embedded broker alone (topics created), until Ctrl-C")
    add(
        "init",
        _init,
        "Create the ledger's tables and topics, and a database role per kind of process "
        "(idempotent; run it with the owner's LEDGER_DATABASE_URL)",
    )
    database_url = add(
        "database-url",
        _database_url,
        "Print the PostgreSQL URL a process connects with under its own role (it holds "
        "the role's password: hand it to that process as LEDGER_DATABASE_URL)",
    )
    database_url.add_argument(
        "role",
        choices=ROLE_NAMES,
        help="writer (ingest workers), sealer, projector, publisher or api",
    )
    add("demo", _demo, "Load the demo data into a running ledger, through Kafka")
    add("doctor", _doctor, "Say what this is connected to and whether each part is healthy")
    add("settings", _settings, "Print every setting, its default and meaning (Markdown)")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(add)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    try:
        settings = settings_for(args.command)
        _configure_logging(settings)
        check_database_keys(args, settings)
        code = int(args.handler(settings, args))
    except SettingsError as exc:  # no secret, the wrong one, or a value it cannot use
        print(f"ledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.getLogger("ledger").debug(
        "%s finished in %.1f s", args.command, time.monotonic() - started
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
