"""``ledger run``: start every part, keep it running, and stop all of it on Ctrl-C.

Order up: PostgreSQL, broker, schema and topics, then the child processes (ingest,
outbox publisher, projections, sealer, API). Order down is the reverse. The supervisor watches
every part it started: a child that exits is started again; a server that stops is
started again on the same port (PostgreSQL on the same data directory, cleared of what
the dead one left), and after the broker, which comes back empty, the topics are created
again and the children that talk to it are restarted. Each part may be restarted a few
times within a window (``cli/restarts.py``); a part that fails more often, or a server
that does not come back, ends the run with exit code 1 and a message naming it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from cli.parts import Child, ChildSpec, GaveUp, Part, Server, describe_exit, last_lines
from infra.broker import EmbeddedBroker
from infra.postgres import EmbeddedPostgres
from infra.topics import ensure_topics, topic_ids
from ledger import database_roles as roles
from ledger.settings import Settings

log = logging.getLogger("ledger.supervisor")

CHILDREN = (
    ChildSpec("ingest", kafka=True, serves_metrics=True, role=roles.WRITER),
    ChildSpec("publish", kafka=True, serves_metrics=True, role=roles.PUBLISHER),
    ChildSpec("project", role=roles.PROJECTOR),
    ChildSpec("seal", role=roles.SEALER),
    ChildSpec("dispose", role=roles.WRITER),
    ChildSpec("api", role=roles.API),
)
API_START_SECONDS = 60.0


class Supervisor:
    """Restarts the parts that stop on their own, servers before children."""

    def __init__(self, servers: list[Server], children: list[Child], stop: threading.Event):
        self.parts: list[Part] = [*servers, *children]
        self.stop = stop

    def watch(self) -> None:
        """Restart every part that stopped on its own; raise GaveUp if one cannot be."""
        for part in self.parts:
            status = part.exit_status()
            if status is not None and not self.stop.is_set():
                self._restart(part, describe_exit(status))

    def _restart(self, part: Part, cause: str) -> None:
        window = part.window
        if not window.allow(time.monotonic()):
            raise GaveUp(
                f"{part.name} exited {window.limit + 1} times within {window.seconds:g} s "
                f"(last {cause}); {last_lines(part.log_path)}"
            )
        pause = window.pause()
        log.warning("%s stopped (%s); restarting it in %.1f s", part.name, cause, pause)
        if not self.stop.wait(pause):
            part.restart(cause)

    def wait_until_serving(self, url: str, api: Child) -> None:
        """Wait until ``url`` answers 200, restarting what stops meanwhile."""
        deadline = time.monotonic() + API_START_SECONDS
        while not answers(url):
            self.watch()
            if time.monotonic() >= deadline:
                raise GaveUp(
                    f"the API did not answer {url} within {API_START_SECONDS:g} s; "
                    f"{last_lines(api.log_path)}"
                )
            if self.stop.wait(0.2):
                return


def _child_settings(settings: Settings, spec: ChildSpec, index: int) -> Settings:
    """Each child its own /metrics port, counting up from LEDGER_METRICS_PORT (0: off),
    and its own database role (the API writes HTTP events as the writer)."""
    port = settings.metrics_port + index if settings.metrics_port else 0
    settings = dataclasses.replace(settings, metrics_port=port)
    if not roles.enabled(settings):
        return settings
    writer = roles.role_url(settings, roles.WRITER) if spec.role == roles.API else ""
    return dataclasses.replace(
        settings,
        database_url=roles.role_url(settings, spec.role),
        writer_database_url=writer,
    )


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 within a second."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except OSError:
        return False


def wait_http(url: str, timeout: float) -> None:
    """Wait until ``url`` answers 200; TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not answers(url):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


def prepare(settings: Settings) -> None:
    """Create the ledger's tables, the views' tables and the topics (idempotent), and
    name the submissions topic's incarnation."""
    from ledger import database_keys
    from ledger.writing import WritePath

    database_keys.record(settings)  # refuses a database initialised with other keys
    topic = settings.topic_submissions
    created = ensure_topics(settings.kafka_bootstrap, settings.topic_partitions)
    write_path = WritePath.from_settings(settings)
    try:
        if topic in created:
            # The embedded broker's topics vanish on every restart: on a broker without
            # topic ids, the new topic's offsets must not be taken for the old one's.
            write_path.topic_created(topic)
        incarnation = write_path.incarnation(
            topic, topic_ids(settings.kafka_bootstrap, [topic]).get(topic)
        )
        moved = write_path.adopt_legacy_positions(
            topic, incarnation, settings.partitions, created=topic in created
        )
        if moved:
            log.warning(
                "%d positions of %s tracked before topic incarnations were %s",
                moved,
                topic,
                "forgotten (the topic is new)" if topic in created else f"kept as {incarnation}",
            )
        log.info("%s is incarnation %s", topic, incarnation)
    finally:
        write_path.close()
    _prepare_database(settings)


def _prepare_database(settings: Settings) -> None:
    """The log's tables (append-only), each process's role (when the roles are on:
    ``ledger.database_roles``), and the views, made by their projector."""
    import psycopg

    from ledger import heartbeat
    from ledger.transparency import store
    from projections.runner import all_projections, prepare_views

    schemas = [projection.schema for projection in all_projections()]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        store.create_tables(conn)
        heartbeat.create_table(conn)
        if roles.enabled(settings):
            names = roles.ensure_roles(conn, settings, schemas)
            log.info("database roles ready: %s", ", ".join(names.values()))
    projector = roles.as_role(settings, roles.PROJECTOR)
    prepare_views(projector)
    if projector is not settings:
        with psycopg.connect(projector.database_url, autocommit=True) as conn:
            roles.grant_views_to_api(conn, settings, schemas)


def _start_servers(
    settings: Settings, logs: Path, stack: ExitStack
) -> tuple[Settings, Server | None, Server | None]:
    """Start the embedded PostgreSQL and broker unless the settings name servers;
    return settings naming them, and each one started (None: an external server)."""
    postgres = broker = None
    if not settings.database_url:
        pg = EmbeddedPostgres(settings.home / "pgdata", port=settings.embedded_pg_port)
        postgres = Server("PostgreSQL", pg, pg.log_path)
        stack.callback(postgres.stop)
        log.info("starting embedded PostgreSQL")
        settings = dataclasses.replace(settings, database_url=pg.start())
    if not settings.kafka_bootstrap:
        tansu = EmbeddedBroker(port=settings.embedded_kafka_port, log_path=logs / "broker.log")
        broker = Server("Kafka broker", tansu, logs / "broker.log")
        stack.callback(broker.stop)
        log.info("starting embedded broker")
        settings = dataclasses.replace(settings, kafka_bootstrap=tansu.start())
    return settings, postgres, broker


def supervise(settings: Settings, *, demo: bool, stop: threading.Event) -> int:
    settings.home.mkdir(parents=True, exist_ok=True)
    logs = settings.home / "logs"
    logs.mkdir(exist_ok=True)
    with ExitStack() as stack:
        settings, postgres, broker = _start_servers(settings, logs, stack)
        prepare(settings)
        children = [
            Child(spec, _child_settings(settings, spec, index), logs)
            for index, spec in enumerate(CHILDREN)
        ]
        for child in children:  # last in, first out: the API stops first, ingest last
            stack.callback(child.stop)
        if broker is not None:
            # It comes back empty: create the topics again, then restart the children
            # that knew the old one.
            broker.dependents = [child for child in children if child.spec.kafka]
            broker.then = lambda: prepare(settings)
        servers = [server for server in (postgres, broker) if server is not None]
        supervisor = Supervisor(servers, children, stop)
        try:
            _run(settings, supervisor, children, logs, demo=demo)
        except GaveUp as failure:
            log.error("%s\nStopping everything.", failure)
            return 1
        log.info("stopping every process")
    return 0


def _run(
    settings: Settings, supervisor: Supervisor, children: list[Child], logs: Path, *, demo: bool
) -> None:
    for child in children:
        child.start()
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    api = next(child for child in children if child.spec.command == "api")
    supervisor.wait_until_serving(api_url + "/healthz", api)
    if demo and not supervisor.stop.is_set():
        from cli.demo import load_demo

        load_demo(settings, api_url)
    print(f"\nThe ledger is running. API: {api_url}/docs  Logs: {logs}/", flush=True)
    if demo and settings.env != "production":
        from portal.development import CITIZENS

        print(
            f"The citizen portal: {api_url}/  (development sign-in: choose "
            f"{', '.join(list(CITIZENS)[:-1])} or {list(CITIZENS)[-1]})",
            flush=True,
        )
    if settings.metrics_port:
        ports = ", ".join(
            f"{child.name} :{child.settings.metrics_port}"
            for child in children
            if child.spec.serves_metrics
        )
        print(f"Metrics (Prometheus, http://{settings.metrics_host}:PORT/metrics): {ports}")
    print("Press Ctrl-C to stop everything.", flush=True)
    while not supervisor.stop.wait(0.5):
        supervisor.watch()
