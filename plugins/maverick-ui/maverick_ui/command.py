"""``maverick ui``: serve the viewer over the configured store until Ctrl-C."""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sys

import click

from maverick_core.api import MaverickError, cli_state

WILDCARDS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (no token is needed there)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def page_url(host: str, port: int, token: str | None) -> str:
    """The URL to open: a wildcard bind is reached through this machine's name."""
    shown = socket.gethostname() if host in WILDCARDS else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the URL is printed (``--port 0`` picks one)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        raise MaverickError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8765,
    show_default=True,
    help="The port (0: any free one).",
)
@click.option("--store", metavar="URL", help="The store (default: the configured).")
def ui_command(host: str, port: int, store: str | None) -> None:
    """Serve a read-only viewer of the store's runs and print its URL.

    It binds 127.0.0.1 by default. Any other address needs a token: a new one is
    made each start and printed in the URL; a browser that opened that URL keeps it
    in a cookie, and every request without it is refused (403).
    """
    import uvicorn

    from maverick_ui.app import make_app
    from maverick_ui.data import ReadOnlyStore, display_url, store_url

    config = cli_state().config(store=store)
    url = store_url(config)
    opened = ReadOnlyStore.open(config, url)
    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    try:
        sock = bind(host, port)
        bound_port = sock.getsockname()[1]
        app = make_app(opened, config, store_label=url, token=token, port=bound_port)
        shown = display_url(url)
        click.echo(
            f"maverick ui: {page_url(host, bound_port, token)}  (store {shown}; Ctrl-C stops)"
        )
        sys.stdout.flush()
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        )
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        click.echo("maverick ui: stopped")
    finally:
        opened.close()
