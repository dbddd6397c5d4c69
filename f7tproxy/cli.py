"""The `f7tproxy` command line."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import pathlib
import sys
from collections.abc import Iterator, Sequence

import trio

from . import config as config_mod
from ._version import __version__
from .errors import ConfigError

EXIT_CONFIG = 2


GC_YOUNG_THRESHOLD = 20_000
"""Container objects allocated (less those freed) between two collections of the youngest
generation, once the server is loaded; CPython's default is 700.

Nearly everything a request allocates is freed by reference counting when it ends, but a
hundred requests in flight hold more than 700 objects at any time. At the default, a
saturated server (20 users, 100 clients of `ops/ls`) ran tens of young collections a second
and every tenth one an older generation's: 5-9% of the event loop's time, in pauses of up to
75 ms in the middle of requests. At 20,000 it ran a few a minute (each under 50 ms), and
what waits for a collection is at most this many unreachable containers (some MB)."""


@contextlib.contextmanager
def _loading() -> Iterator[None]:
    """Around importing what a long-running command needs: no garbage collection.

    Importing the server builds about 150,000 objects that live as long as the
    process; the collections their allocation triggers find no garbage and cost
    tens of ms of every start. After it, `gc.freeze` keeps later full collections
    from walking those objects again and again, and the collector runs only after
    GC_YOUNG_THRESHOLD allocations.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        gc.enable()


def _load(path: str) -> config_mod.Config | None:
    try:
        return config_mod.from_yaml(path)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return None


def _cmd_serve(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    logging.basicConfig(
        level=config.logging.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from . import _tls

    _tls.preload()  # in a thread, while the server's modules load
    with _loading():
        from .observability import configure_logging, log_writer
        from .server import serve

    configure_logging(config.logging)

    try:
        with log_writer("f7tproxy.access", "f7tproxy.audit"):
            trio.run(serve, config)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"{args.config}: {line}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        config = _load(path)
        if config is None:
            status = EXIT_CONFIG
        else:
            print(f"{path}: ok")
            for line in config_mod.warnings(config):
                print(f"{path}: warning: {line}", file=sys.stderr)
    return status


def _cmd_admin(args: argparse.Namespace) -> int:
    paths = [pathlib.Path(s) for s in args.socket or ()]
    for file in args.config or ():
        config = _load(file)
        if config is None:
            return EXIT_CONFIG
        paths.append(config.server.admin_socket)
    if not paths:
        paths = [config_mod.ServerConfig().admin_socket]
    # The dashboard is a separate program on asyncio (Textual); it only reads the socket.
    with _loading():
        import admin_tui

    if len(paths) == 1:
        admin_tui.run(paths[0])
    else:  # replicas: side by side, with totals
        admin_tui.run_replicas(paths)
    return 0


def _cmd_version(_args: argparse.Namespace) -> int:
    print(f"f7tproxy {__version__}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="f7tproxy", description="A FirecREST-v2-compatible web gateway to HPC clusters."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--config", "-c", required=True, metavar="FILE", help="YAML configuration")
    serve.set_defaults(func=_cmd_serve)

    check = commands.add_parser("check-config", help="validate configuration files and exit")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=_cmd_check_config)

    admin = commands.add_parser("admin", help="the operator dashboard (reads a running server's admin socket)")
    admin.add_argument("--socket", metavar="PATH", action="append",
                       help="admin socket (default: from --config, else the default path); "
                            "repeat it for several replicas, shown side by side with totals")
    admin.add_argument("--config", "-c", metavar="FILE", action="append",
                       help="take the socket path from this configuration (repeatable, as --socket)")
    admin.set_defaults(func=_cmd_admin)

    version = commands.add_parser("version", help="print the version")
    version.set_defaults(func=_cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `f7tproxy` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
