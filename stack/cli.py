"""``pspx``: run, inspect and feed PSP Exchange."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Annotated, NoReturn
from urllib.parse import urlsplit

import httpx
import typer

from pspx.settings import Settings, get_settings
from stack import dlq, embedded, manifest

app = typer.Typer(help="PSP Exchange: run, inspect and feed the system.", no_args_is_help=True)
match_app = typer.Typer(help="The matching engine, offline.", no_args_is_help=True)
app.add_typer(match_app, name="match")
app.add_typer(dlq.app, name="dlq")

RegistryUrl = Annotated[
    str | None, typer.Option(help="Registry base URL (default: from the settings)")
]


def _registry(url: str | None) -> str:
    return (url or get_settings().service_url("registry")).rstrip("/")


@app.command()
def up(
    seed: Annotated[bool, typer.Option(help="Load the demo data if the registry is empty")] = True,
) -> None:
    """Start the broker, the database and every service; Ctrl-C stops them all."""
    from stack.demo.seed import is_empty
    from stack.demo.seed import seed as load_demo
    from stack.run import Stack

    stack = Stack(get_settings())
    try:
        stack.start()
        registry = stack.settings.service_url("registry")
        if seed and is_empty(registry):
            print("first start: loading the demo data")
            for line in load_demo(registry):
                print(f"  {line}")
        print(f"PSP Exchange is up; data and logs in {stack.data.resolve()}. Ctrl-C stops it.")
        stack.wait()
    except (embedded.PortTaken, embedded.StartFailed) as exc:
        print(f"pspx up: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    finally:
        stack.stop()


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(manifest.names())}")],
) -> None:
    """Run one service on its port (what `pspx up` and a container run)."""
    import uvicorn

    settings = get_settings()
    try:
        entry = manifest.spec(service)
    except LookupError as exc:
        print(f"pspx serve: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    uvicorn.run(
        manifest.build(service, settings),
        host=settings.host,
        port=entry.port(settings),
        access_log=False,
        log_config=None,  # the service logs JSON lines itself
    )


@app.command()
def status() -> None:
    """Show the health of every part; exit 0 only when all are healthy."""
    settings = get_settings()
    healthy = True
    rows = []
    reached = _reached(settings)
    for name, address in (("kafka", _kafka_address(reached)), ("mongo", _mongo_address(reached))):
        up_ = _listening(address)
        rows.append((name, f"{address[0]}:{address[1]}", "listening" if up_ else "down"))
        healthy &= up_
    for svc in manifest.SERVICES:
        url = settings.service_url(svc.name)
        try:
            response = httpx.get(f"{url}/readyz", timeout=3)
            body = response.json()
            ok = response.status_code == 200
            state = (
                "ready"
                if ok
                else "not ready: "
                + ", ".join(k for k, v in body.get("checks", {}).items() if not v)
            )
        except httpx.HTTPError:
            ok, state = False, "down"
        rows.append((svc.name, url, f"{state}  ({svc.entry(settings)})"))
        healthy &= ok
    for name, where, state in rows:
        print(f"{name:<10} {where:<28} {state}")
    raise typer.Exit(0 if healthy else 1)


def _reached(settings: Settings) -> Settings:
    """Where the broker and the database are: the embedded parts' ports when the settings
    point at this machine (as ``pspx up`` reaches them), else the settings' own addresses
    (a deployment, where they are other containers or hosts)."""
    from stack.run import embedded_settings

    if _kafka_address(settings)[0] in ("127.0.0.1", "localhost", "::1"):
        return embedded_settings(settings)
    return settings


def _kafka_address(settings: Settings) -> tuple[str, int]:
    host, _, port = settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")
    return host or "127.0.0.1", int(port or 9092)


def _mongo_address(settings: Settings) -> tuple[str, int]:
    # Where the settings point (the embedded server, or the first host of a replica set).
    first = urlsplit(settings.mongo_url).netloc.rpartition("@")[2].split(",")[0]
    host, _, port = first.rpartition(":")
    return (host, int(port)) if host else (first or "127.0.0.1", 27017)


def _listening(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=2).close()
    except OSError:
        return False
    return True


@app.command()
def seed(registry_url: RegistryUrl = None) -> None:
    """Load the demo data (UK charities, commissioners, needs) through the registry."""
    from stack.demo.seed import seed as load_demo

    for line in load_demo(_registry(registry_url)):
        print(line)


@app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSONL of organisations")
    ],
    registry_url: RegistryUrl = None,
    batch: Annotated[int, typer.Option(min=1, max=1000)] = 500,
) -> None:
    """Register or update the organisations of a JSONL file (idempotent on id)."""
    from stack.importer import import_file

    try:
        summary = import_file(_registry(registry_url), file, batch)
    except httpx.ConnectError:
        print(
            f"pspx import: cannot reach the registry at {_registry(registry_url)}", file=sys.stderr
        )
        raise typer.Exit(1) from None
    for problem in summary.invalid[:20]:
        print(f"  skipped {problem}", file=sys.stderr)
    if len(summary.invalid) > 20:
        print(f"  ... and {len(summary.invalid) - 20} more", file=sys.stderr)
    print(summary.line())
    raise typer.Exit(1 if summary.invalid else 0)


@app.command()
def replay(
    service: Annotated[str, typer.Argument(help=f"One of: {', '.join(manifest.producers())}")],
    topic: Annotated[list[str] | None, typer.Option(help="Only these topics")] = None,
) -> None:
    """Republish a service's whole event history from its outbox, in order."""
    producers = manifest.producers()
    if service not in producers:
        print(f"pspx replay: service must be one of {', '.join(producers)}", file=sys.stderr)
        raise typer.Exit(2)
    chosen = topic or list(producers[service])
    unknown = set(chosen) - set(producers[service])
    if unknown:
        print(
            f"pspx replay: {service} does not publish {', '.join(sorted(unknown))}", file=sys.stderr
        )
        raise typer.Exit(2)
    count = asyncio.run(_replay(get_settings(), service, chosen))
    print(f"republished {count} events to {', '.join(chosen)}")


async def _replay(settings: Settings, service: str, chosen: list[str]) -> int:
    from pspx.outbox import replay as republish
    from pspx.runtime import Runtime

    runtime = Runtime(manifest.spec(service), settings)
    await runtime.kafka.start()
    try:
        return await republish(runtime.outbox, runtime.bus, chosen)
    finally:
        await runtime.stop()


@app.command()
def token(
    org: Annotated[str | None, typer.Option(help="The organisation the user acts for")] = None,
    role: Annotated[str | None, typer.Option(help="commissioner, partner or operator")] = None,
    name: Annotated[str | None, typer.Option(help="What the user does, e.g. a job title")] = None,
    subject: Annotated[str | None, typer.Option(help="The user's id (default: role@org)")] = None,
    demo: Annotated[bool, typer.Option(help="A token for each demo user instead")] = False,
) -> None:
    """Print a token the gateway accepts, for trying the API (embedded sign-in only)."""
    from gateway.auth import LocalKeys, Principal, Role, SignInRefused, check_fits
    from gateway.demo import demo_users
    from stack.demo.users import registered_kind

    settings = Settings()
    if settings.oidc_issuer:
        _refuse("token", "PSPX_OIDC_ISSUER is set: tokens come from your identity provider")
    keys = LocalKeys(settings)
    if demo:
        for user in demo_users():
            print(f"{user.subject}\t{user.role}\t{user.org_id}\t{keys.sign(user.principal())}")
        return
    if org is None or role is None:
        _refuse("token", "give --org and --role, or --demo")
    if role not in set(Role):
        _refuse("token", f"unknown role {role!r} (one of {', '.join(Role)})")
    principal = Principal(subject or f"{role}@{org}", org, Role(role), name)
    registry = settings.service_url("registry")
    try:
        check_fits(principal, registered_kind(registry, org))
    except SignInRefused as exc:
        _refuse("token", str(exc))
    except httpx.HTTPError:
        print(
            f"pspx token: warning: the registry at {registry} did not answer, "
            f"so organisation {org} could not be checked",
            file=sys.stderr,
        )
    print(keys.sign(principal))


def _refuse(command: str, reason: str) -> NoReturn:
    print(f"pspx {command}: {reason}", file=sys.stderr)
    raise typer.Exit(2)


@app.command()
def docs() -> None:
    """Regenerate the documents made from the code: AsyncAPI, the event catalogue, the
    architecture page's table of services."""
    from stack.docs import write

    for path in write():
        print(f"wrote {path}")


@match_app.command("rank")
def match_rank(
    partners: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    needs: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option(dir_okay=False)],
    top: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """Rank a JSONL of needs against a JSONL of partners with the service's own engine."""
    from services.matching.batch import rank_files

    count = rank_files(partners, needs, top, out)
    print(f"ranked {count} needs into {out}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
