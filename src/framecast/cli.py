"""framecast command line: serve | keys | generate | models | migrate | submit | tasks."""

from __future__ import annotations

import dataclasses
import enum
import itertools
import json
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.orm import Session

from framecast import logs
from framecast.config import Catalog, Settings
from framecast.store import keys as key_store
from framecast.store.db import Database

if TYPE_CHECKING:
    from framecast.client import Client

app = typer.Typer(
    help="framecast: self-hosted video generation.", no_args_is_help=True, pretty_exceptions_enable=False
)
keys_app = typer.Typer(help="Manage API keys (stored hashed; a key is shown once).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console(soft_wrap=True)  # never break a key or a URL across lines
err_console = Console(stderr=True, soft_wrap=True)

JsonOpt = Annotated[
    bool, typer.Option("--json", help="print the full records as JSON (nothing shortened; for scripts)")
]
KeyIdArg = Annotated[str, typer.Argument(help="the key id from `keys list`")]
# what `generate` (here) and `submit` (on a server) both ask for
DurationOpt = Annotated[int | None, typer.Option(help="seconds (the model's default if omitted)")]
SeedOpt = Annotated[int | None, typer.Option(help="seed (random if omitted)")]


def _print_table(table: Table) -> None:
    """Print ``table`` at its natural width, however narrow the terminal (or 80 columns when output is
    not a terminal): ids, keys and URLs are for copying, so no cell is ever cut, folded or shortened.
    A terminal narrower than the table wraps the long lines itself."""
    natural = Measurement.get(console, console.options.update_width(1_000_000), table).maximum
    if natural <= console.width:
        console.print(table)
    else:
        Console(soft_wrap=True, width=natural).print(table)


def _jsonable(value: Any) -> Any:
    """A JSON-ready copy of a record: pydantic models via ``model_dump(mode="json")``, dataclasses field
    by field (fields hidden from their repr, such as a client Task's ``raw`` wire body, are left out),
    enums as their values, datetimes in ISO 8601. New fields of a model flow through without edits."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, datetime):
        return value.isoformat() if value.tzinfo else value.replace(tzinfo=UTC).isoformat()  # store: UTC
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


def _db(settings: Settings) -> Database:
    settings.ensure_dirs()
    db = Database(settings.db_url)
    db.upgrade()
    return db


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="address to bind (default FRAMECAST_HOST or 127.0.0.1)")
    ] = None,
    port: Annotated[int | None, typer.Option(help="port (default FRAMECAST_PORT or 8000)")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="server processes; each serves the API and runs its own worker threads")
    ] = 1,
    threads: Annotated[
        int | None, typer.Option(help="embedded worker threads per process (default FRAMECAST_WORKERS)")
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Run the API and its worker threads, in a render process the server starts and restarts (SQLite +
    local storage by default); with FRAMECAST_BROKER_URL set, the API only (`framecast worker` processes
    run the tasks).

    With --workers N, N processes share the port; each claims tasks with the same compare-and-swap,
    so a task runs once whichever process takes it."""
    import uvicorn

    overrides: dict[str, str] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = str(port)
    if threads is not None:
        overrides["workers"] = str(threads)
    # through the environment: with several processes each builds its own Settings from it
    os.environ.update({f"FRAMECAST_{k.upper()}": v for k, v in overrides.items()})
    settings = Settings()
    _check_distributed(settings)
    logs.configure(log_level)
    db = _db(settings)  # migrations run here, once, before any server process starts
    with db.session() as s:
        if key_store.count_active(s) == 0:
            row, token = key_store.create_key(s, name="first key")
            console.print(
                "[bold]No API key existed, so framecast created one. It is shown only this once:[/]"
            )
            console.print(f"  {token}", highlight=False)
            console.print(f"  (id {row.id}; manage keys with `framecast keys`)")
    db.dispose()
    console.print(
        f"framecast listening on http://{settings.host}:{settings.port} (data in {settings.data_dir})"
    )
    uvicorn.run(
        "framecast.app:create_app",
        factory=True,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_level=log_level.lower(),
        access_log=settings.access_log_sample > 0,
        # uvicorn's 5 s default replaces a process that is still importing the engines on a busy machine
        timeout_worker_healthcheck=60,
    )


def _check_distributed(settings: Settings) -> None:
    try:
        settings.check_distributed()
    except ValueError as exc:
        err_console.print(str(exc), highlight=False)
        raise typer.Exit(2) from None


@app.command()
def worker(
    models: Annotated[
        str,
        typer.Option(
            help="comma-separated model names whose queues to consume (default: all; distributed mode)"
        ),
    ] = "",
    concurrency: Annotated[int, typer.Option(min=1, help="tasks run at once in this process")] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning")] = "info",
) -> None:
    """Run tasks in a process of their own: a Celery worker on FRAMECAST_BROKER_URL (distributed mode,
    docs/deploy.md), or without a broker, worker threads claiming from the database beside a
    `framecast serve` run with FRAMECAST_WORKERS=0 (docs/operations.md)."""
    settings = Settings()
    logs.configure(log_level)
    if not settings.distributed:
        if models:
            err_console.print(
                "--models needs distributed mode (FRAMECAST_BROKER_URL): one queue holds every model"
            )
            raise typer.Exit(2)
        from framecast.jobs.local import run_local_worker

        run_local_worker(settings, threads=concurrency)
        return
    _check_distributed(settings)
    from framecast.jobs.celery import run_worker

    names = [m.strip() for m in models.split(",") if m.strip()]
    run_worker(settings, models=names, concurrency=concurrency, log_level=log_level)


@app.command()
def migrate() -> None:
    """Apply database migrations (serve does this too)."""
    settings = Settings()
    _db(settings).dispose()
    console.print("database is at the latest revision")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="a label for the key")] = "",
    tenant: Annotated[
        str | None, typer.Option(help="share a tenant with other keys (default: its own)")
    ] = None,
    credits: Annotated[int | None, typer.Option(help="credit balance (default: unmetered)")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="tasks running at once (default: unlimited)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the key")] = False,
) -> None:
    """Create a key and print it once (with its webhook signing secret)."""
    db = _db(Settings())
    with db.session() as s:
        row, token = key_store.create_key(
            s, name=name, tenant=tenant, credits=credits, concurrency_limit=concurrency
        )
    if quiet:
        typer.echo(token)
        return
    console.print(f"created key {row.id} (tenant {row.tenant}). It is shown only this once:")
    console.print(f"  {token}", highlight=False)
    console.print(
        f"webhook signing secret (Standard Webhooks, non-Vidu callbacks): {row.webhook_secret}",
        highlight=False,
    )


# columns of a key row that `keys list --json` leaves out: the hash of the key and the webhook secret
_KEY_SECRETS = frozenset({"key_hash", "webhook_secret"})


@keys_app.command("list")
def keys_list(as_json: JsonOpt = False) -> None:
    """List keys (never the keys themselves)."""
    db = _db(Settings())
    from framecast.store import billing

    with db.session() as s:
        rows = key_store.list_keys(s)
        balances = {r.tenant: billing.balance(s, tenant=r.tenant) for r in rows}
    if as_json:
        records = []
        for r in rows:
            record = {c.key: getattr(r, c.key) for c in r.__table__.columns if c.key not in _KEY_SECRETS}
            b = balances[r.tenant]
            records.append({**record, "credits": b.credits, "concurrency_limit": b.concurrency_limit})
        _print_json(records)
        return
    table = Table("id", "name", "tenant", "prefix", "credits", "concurrency", "created", "revoked")
    for r in rows:
        b = balances[r.tenant]
        table.add_row(
            r.id,
            r.name,
            r.tenant,
            r.prefix + "...",
            "unmetered" if b.credits is None else str(b.credits),
            "unlimited" if b.concurrency_limit is None else str(b.concurrency_limit),
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "",
        )
    _print_table(table)


@keys_app.command("topup")
def keys_topup(
    key_id: KeyIdArg, credits: Annotated[int, typer.Option(help="credits to add to the key's tenant")]
) -> None:
    """Add credits to the tenant of a key (an unmetered tenant becomes metered)."""
    from framecast.store import billing

    with _tenant_of(key_id) as (s, tenant):
        balance = billing.topup(s, tenant=tenant, amount=credits)
    console.print(f"tenant {tenant} now has {balance} credits")


@keys_app.command("limit")
def keys_limit(
    key_id: KeyIdArg, concurrency: Annotated[int, typer.Option(help="tasks running at once; 0 = unlimited")]
) -> None:
    """Set the concurrency limit of a key's tenant."""
    from framecast.store import billing

    with _tenant_of(key_id) as (s, tenant):
        billing.set_limits(s, tenant=tenant, concurrency_limit=concurrency)
    console.print(f"tenant {tenant}: concurrency limit {concurrency or 'unlimited'}")


@contextmanager
def _tenant_of(key_id: str) -> Iterator[tuple[Session, str]]:
    """A transaction and the tenant of ``key_id``; exits 1 with a message when there is no such key."""
    db = _db(Settings())
    with db.session() as s:
        row = key_store.get_key(s, key_id=key_id)
        if row is None:
            err_console.print(f"no key with id {key_id}")
            raise typer.Exit(1)
        yield s, row.tenant


@keys_app.command("revoke")
def keys_revoke(key_id: KeyIdArg) -> None:
    """Revoke a key: requests with it answer 401 from now on."""
    db = _db(Settings())
    with db.session() as s:
        ok = key_store.revoke_key(s, key_id=key_id)
    if not ok:
        err_console.print(f"no active key with id {key_id}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@app.command()
def callbacks(task_id: Annotated[str, typer.Argument(help="a task id")]) -> None:
    """Show every callback of a task and each delivery attempt (operator view, reads the database)."""
    from framecast.store import outbox

    db = _db(Settings())
    with db.session() as s:
        history = outbox.history(s, task_id=task_id)
    if not history:
        console.print(f"task {task_id} has no callbacks")
        return
    table = Table("event", "url", "status", "attempt at", "HTTP", "latency ms", "error")
    for row, attempts in history:
        if not attempts:
            table.add_row(row.event, row.url, row.status, "", "", "", "")
        for i, a in enumerate(attempts):
            table.add_row(
                row.event if i == 0 else "",
                row.url if i == 0 else "",
                row.status if i == 0 else "",
                f"{a.at:%Y-%m-%d %H:%M:%S}",
                str(a.status_code or ""),
                str(a.latency_ms),
                a.error,
            )
    _print_table(table)


@app.command()
def models() -> None:
    """List the model names this server answers to: engine, kinds, weights found, durations, resolutions."""
    from framecast.engines.registry import EngineRegistry, describe_model

    settings = Settings()
    catalog = Catalog.load(settings.catalog_file)
    registry = EngineRegistry()
    table = Table("model", "engine", "kinds", "weights", "durations (s)", "resolutions")
    for name in catalog.names():
        m = catalog.require(name)
        info = describe_model(m, registry)
        durations = ",".join(map(str, m.durations)) if m.durations else f"{m.min_duration}-{m.max_duration}"
        if not info["installed"]:
            weights = "engine not installed"
        elif not info["needs_weights"]:
            weights = "none needed"
        else:
            weights = f"{'found' if info['weights_found'] else 'NOT FOUND'}: {info['weights']}"
        kinds = ",".join(info["kinds"]) or "-"
        table.add_row(name, m.engine, kinds, weights, durations, ",".join(m.resolutions))
    _print_table(table)


@app.command()
def generate(
    output: Annotated[Path, typer.Option("-o", "--output", help="the MP4 to write")],
    first: Annotated[Path, typer.Option(help="first frame (or the only image, for image-to-video)")],
    last: Annotated[Path | None, typer.Option(help="last frame")] = None,
    prompt: Annotated[str, typer.Option(help="what happens; camera words steer the motion")] = "",
    duration: DurationOpt = None,
    fps: Annotated[int | None, typer.Option(help="frames per second")] = None,
    frames: Annotated[int | None, typer.Option(help="exact frame count; overrides duration x fps")] = None,
    seed: SeedOpt = None,
    resolution: Annotated[str | None, typer.Option(help="360p, 540p, 720p or 1080p")] = None,
    model: Annotated[str, typer.Option(help="a catalog model name (`framecast models`)")] = "viduq3-pro",
    movement: Annotated[str, typer.Option(help="auto, small, medium or large")] = "auto",
) -> None:
    """Make a video on this machine, without a server."""
    from framecast.domain import GenerationRequest, ImageRef, ImageRole, MovementAmplitude, TaskKind
    from framecast.engines.registry import EngineRegistry
    from framecast.errors import ClientError
    from framecast.jobs.runner import job_from_bytes
    from framecast.media.images import PAIR_RATIO, ImageLimits, check_image, check_pair_ratio
    from framecast.media.labels import default_label
    from framecast.media.render import render_outputs
    from framecast.service import check_model, new_seed, normalise

    settings = Settings()
    catalog = Catalog.load(settings.catalog_file)
    engines = EngineRegistry()
    try:
        images = [ImageRef(role=ImageRole.FIRST, source=str(first))]
        if last:
            images.append(ImageRef(role=ImageRole.LAST, source=str(last)))
        req = GenerationRequest(
            kind=TaskKind.FIRST_LAST if last else TaskKind.IMAGE,
            model=model,
            prompt=prompt,
            images=images,
            duration=float(duration) if duration is not None else None,
            fps=fps,
            frames=frames,
            resolution=resolution,
            seed=seed or new_seed(),
            movement_amplitude=MovementAmplitude(movement),
        )
        spec = check_model(catalog, engines, req)
        req = normalise(req, spec)
        # local files are the user's own: check that they decode, and that a pair is one the
        # server would render too (the same first/last rule and message as the service's)
        limits = ImageLimits(max_aspect=100.0, min_side=16)
        first_image = check_image(first.read_bytes(), limits=limits, index=1)
        last_image = check_image(last.read_bytes(), limits=limits, index=2) if last else None
        if last_image is not None:
            check_pair_ratio(first_image, last_image, PAIR_RATIO)
        job = job_from_bytes(
            req, first_image.data, last_image.data if last_image else None, dict(spec.options)
        )
    except ClientError as exc:
        err_console.print(f"error: {exc.message}")
        raise typer.Exit(2) from exc
    except (OSError, ValueError) as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(2) from exc
    engine = engines.get(spec.engine, spec.options)
    output.parent.mkdir(parents=True, exist_ok=True)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console) as bar, tempfile.TemporaryDirectory() as tmp:
        bar_task = bar.add_task(f"{job.width}x{job.height}", total=job.num_frames)
        result = render_outputs(
            engine.generate(job, lambda: False),
            out_dir=Path(tmp),
            width=job.width,
            height=job.height,
            fps=job.fps,
            label=default_label(task_id="local-" + secrets.token_hex(6)),
            on_frame=lambda i: bar.update(bar_task, completed=i + 1),
        )
        shutil.copyfile(result.video_path, output)
    console.print(
        f"wrote {output}: {result.width}x{result.height}, {result.frames} frames at {result.fps} fps, "
        f"seed {job.seed}"
    )


# --- client commands: talk to a running server through framecast.client ----------------------

tasks_app = typer.Typer(help="List, show and cancel tasks on a server.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")

DEFAULT_SERVER = "http://127.0.0.1:8000"  # where `framecast serve` listens by default
ServerOpt = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="FRAMECAST_SERVER",
        help=f"base URL of the framecast server (default FRAMECAST_SERVER, then {DEFAULT_SERVER})",
        show_default=False,
    ),
]
KeyOpt = Annotated[str, typer.Option("--key", envvar="FRAMECAST_API_KEY", help="API key")]


@contextmanager
def _client(server: str, key: str) -> Iterator[Client]:
    """A client whose errors end the command with the service's code and message."""
    from framecast.client import APIError, Client, FramecastError

    try:
        with Client(server, key, timeout=60) as client:
            yield client
    except APIError as exc:
        trace = f", trace id {exc.trace_id}" if exc.trace_id else ""
        err_console.print(
            f"error: {exc.code or 'HTTP ' + str(exc.status_code)}: {exc.message} "
            f"(HTTP {exc.status_code}{trace})",
            highlight=False,
        )
        raise typer.Exit(1) from exc
    except FramecastError as exc:
        err_console.print(f"error: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    except (OSError, ValueError) as exc:
        err_console.print(f"error: {exc}", highlight=False)
        raise typer.Exit(2) from exc


def _image_arg(value: str) -> str | Path:
    return value if value.startswith(("http://", "https://", "data:")) else Path(value)


@app.command()
def submit(
    key: KeyOpt,
    server: ServerOpt = DEFAULT_SERVER,
    first: Annotated[
        str | None, typer.Option(help="first frame: a file or an http(s) URL (omit for text-to-video)")
    ] = None,
    last: Annotated[str | None, typer.Option(help="last frame: a file or an http(s) URL")] = None,
    prompt: Annotated[str | None, typer.Option(help="what happens; camera words steer the motion")] = None,
    duration: DurationOpt = None,
    resolution: Annotated[str | None, typer.Option(help="540p, 720p, 1080p, ...")] = None,
    seed: SeedOpt = None,
    model: Annotated[str, typer.Option(help="a model name the server knows")] = "viduq3-pro",
    wait: Annotated[
        bool, typer.Option("--wait", help="follow the task to its end with a progress bar")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="save the video here (implies --wait)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds --wait waits before giving up")] = 1800.0,
) -> None:
    """Submit a task to a server (over the Vidu API); optionally wait and download the video."""
    from framecast.client import GenerationOptions, TaskEvent

    with _client(server, key) as client:
        options: GenerationOptions = {
            "model": model, "duration": duration, "resolution": resolution, "seed": seed,
        }  # fmt: skip
        if first and last:
            task = client.create_first_last(_image_arg(first), _image_arg(last), prompt=prompt, **options)
        elif first:
            task = client.create_image(_image_arg(first), prompt=prompt, **options)
        elif last:
            raise typer.BadParameter("--last needs --first")
        else:
            if not prompt:
                raise typer.BadParameter("give --first (and --last) or a --prompt")
            task = client.create_text(prompt, **options)
        console.print(f"task {task.id} {task.state.value}", highlight=False)
        if not (wait or output):
            return
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err_console) as bar:
            bar_task = bar.add_task("queued", total=100)

            def on_progress(event: TaskEvent) -> None:
                bar.update(bar_task, completed=event.progress, description=event.state.value)

            done = client.wait(task.id, timeout=timeout, on_progress=on_progress)
        for c in done.creations:
            console.print(f"{c.width}x{c.height}, {c.duration:g} s at {c.fps} fps: {c.url}", highlight=False)
        if output:
            client.download(done, output)
            console.print(f"wrote {output}", highlight=False)


@tasks_app.command("list")
def tasks_list(
    key: KeyOpt,
    server: ServerOpt = DEFAULT_SERVER,
    state: Annotated[
        list[str] | None,
        typer.Option(help="only these states: queued, running, succeeded, failed, cancelled"),
    ] = None,
    limit: Annotated[int, typer.Option(help="show at most this many (newest first)")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List this key's tasks, newest first."""
    with _client(server, key) as client:
        rows = list(itertools.islice(client.list(states=state, page_size=min(max(limit, 1), 100)), limit))
    if as_json:
        _print_json(rows)
        return
    # ids are for copying into `tasks show`: never shortened, whatever the terminal width
    table = Table("id", "state", "progress", "model", "created", "error")
    for t in rows:
        created = t.created_at[:16].replace("T", " ")
        table.add_row(t.id, t.state.value, f"{t.progress}%", t.model, created, t.err_code)
    _print_table(table)


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument()],
    key: KeyOpt,
    server: ServerOpt = DEFAULT_SERVER,
    as_json: JsonOpt = False,
) -> None:
    """One task: state, progress, attempts and the worker, result links (never shortened)."""
    with _client(server, key) as client:
        t = client.inspect(task_id)
    if as_json:
        _print_json(t)
        return
    table = Table.grid(padding=(0, 2))
    table.add_row("id", t.id)
    table.add_row("state", t.state.value)
    table.add_row("progress", f"{t.progress}%" + (f" ({t.phase})" if t.phase else ""))
    # a task that keeps losing its worker shows here: attempts climb, and so do the lost ones
    table.add_row("attempts", f"{t.attempt} (workers lost: {t.lost_attempts})")
    if t.worker:
        table.add_row("worker", t.worker)
    if t.err_code:
        table.add_row("error", t.err_code)
        table.add_row("message", t.err_message)
    for i, c in enumerate(t.creations):
        table.add_row(f"video {i}", f"{c.width}x{c.height}, {c.duration:g} s at {c.fps} fps")
        table.add_row("  url", c.url)
        table.add_row("  cover", c.cover_url)
        if c.watermarked_url:
            table.add_row("  watermarked", c.watermarked_url)
    _print_table(table)


@tasks_app.command("cancel")
def tasks_cancel(
    task_id: Annotated[str, typer.Argument()], key: KeyOpt, server: ServerOpt = DEFAULT_SERVER
) -> None:
    """Cancel a queued or running task."""
    with _client(server, key) as client:
        client.cancel(task_id)
    console.print(f"cancel requested for {task_id}", highlight=False)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
