"""The `econnect-bridge` command: one sub-command per job, each a thin call into a module."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from econnect_bridge import __version__
from econnect_bridge.logsetup import setup_logging

if TYPE_CHECKING:
    from econnect_bridge.client import EconnectClient

_T = TypeVar("_T")

PASSWORD_ENV = "ECONNECT_PASSWORD"  # noqa: S105 - the variable's name, not a password
DESCRIPTION = """\
Face recognition for Home Assistant, Node-RED and MQTT: camera snapshots on MQTT go to the
eConnect Identities engine, and what it recognises comes back as MQTT events and Home
Assistant entities.

Start with `econnect-bridge demo` (no set-up needed), then write a configuration
(see examples/config.yaml), check it with `check-config`, and `run` it."""


def build_parser() -> argparse.ArgumentParser:
    """Describe every sub-command and its options."""
    parser = argparse.ArgumentParser(
        prog="econnect-bridge",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"econnect-bridge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = sub.add_parser("run", help="run the bridge with a configuration file")
    run.add_argument("-c", "--config", required=True, help="the YAML configuration file")
    check = sub.add_parser("check-config", help="validate a configuration and show the result")
    check.add_argument("-c", "--config", required=True, help="the YAML configuration file")
    _add_doctor(sub)
    _add_recognize(sub)
    demo = sub.add_parser("demo", help="show the bridge working with no set-up at all")
    demo.add_argument("--keep-running", action="store_true", help="stay up until Ctrl-C")
    # Listed for --help only: `main` hands everything after "emulator" to the emulator's own
    # parser, because argparse's REMAINDER cannot capture options such as `--port 8009`.
    sub.add_parser("emulator", help="run the engine emulator (for tests and demos)")
    return parser


def _add_recognize(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rec = sub.add_parser(
        "recognize",
        help="recognise faces in image files or folders",
        description=(
            "Send images to publishWithResponse and print each face. Credentials come from "
            f"-c FILE, or --url and --username with the password from ${PASSWORD_ENV} or a "
            "prompt."
        ),
    )
    rec.add_argument("images", nargs="+", help="image files or folders of images")
    rec.add_argument("-c", "--config", help="take the engine settings from this configuration")
    rec.add_argument(
        "--url", help="the engine's base URL (e.g. https://x.econnectcloud.com/identities)"
    )
    rec.add_argument("--username", help="the engine user name")
    rec.add_argument("--ca-file", help="trust this CA file (on-prem self-signed servers)")
    rec.add_argument("--insecure", action="store_true", help="do not verify TLS (not advised)")
    rec.add_argument("--detector", default="econnect-cli", help="detectorName sent to the engine")
    rec.add_argument("--time-zone", default=None, help="IANA time zone (default: local or UTC)")
    rec.add_argument("--all-faces", action="store_true", help="return every face, not the largest")
    rec.add_argument("--json", action="store_true", help="print one JSON event per image")


#: The exit code of a Unix tool killed by SIGPIPE (128 + 13), e.g. `yes | head -1`.
STDOUT_CLOSED_EXIT = 141
#: Long-running commands: a BrokenPipeError there comes from a socket and must show.
_SERVICES = frozenset({"run", "demo"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["emulator"]:
        from econnect_bridge.emulator.cli import main as emulator_main

        return emulator_main(arguments[1:])
    parser = build_parser()
    args = until_stdout_closes(lambda: parser.parse_args(arguments))
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": _run,
        "check-config": _check_config,
        "doctor": _doctor,
        "recognize": _recognize,
        "demo": _demo,
    }
    if args.command is None:
        return until_stdout_closes(lambda: _print_help(parser))
    if args.command in _SERVICES:
        return commands[args.command](args)
    return until_stdout_closes(lambda: commands[args.command](args))


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def until_stdout_closes(job: Callable[[], _T]) -> _T:
    """Run `job`; if its reader goes away (`check-config | head -1`), exit quietly.

    Unix tools die of SIGPIPE silently there; Python instead raises BrokenPipeError, and
    again when it flushes stdout at exit, printing tracebacks about nothing the user did
    wrong. So the output is flushed here, and on a closed pipe stdout is pointed at
    /dev/null (nothing left to flush) and the process exits with SIGPIPE's usual 141, as the
    Python documentation's "Note on SIGPIPE" advises.
    """
    try:
        try:
            return job()
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise SystemExit(STDOUT_CLOSED_EXIT) from None


def _run(args: argparse.Namespace) -> int:
    from econnect_bridge.app import BridgeApp
    from econnect_bridge.config import ConfigError, config_warnings, load_config

    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    setup_logging(config.logging.level, config.logging.format)
    for warning in config_warnings(config):
        logging.getLogger("bridge").warning("%s", warning)
    return BridgeApp(config).run()


def _check_config(args: argparse.Namespace) -> int:
    from econnect_bridge.config.check import check_config

    code, text = check_config(args.config)
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def _add_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check the broker, the engine and the topics for real, and say how to fix problems",
        description=(
            "Connect to the broker (publish and receive on a private topic), sign in to the "
            "engine, send it a built-in image with no face, read its roster, and listen to the "
            "configured snapshot topics. Exit code 1 when a check fails."
        ),
    )
    doctor.add_argument("-c", "--config", required=True, help="the YAML configuration file")
    doctor.add_argument(
        "--listen", type=float, default=3.0, help="seconds to listen on the topics (default 3)"
    )
    doctor.add_argument(
        "--no-publish", action="store_true", help="do not send the test image to the engine"
    )


def _doctor(args: argparse.Namespace) -> int:
    from econnect_bridge.config import ConfigError, load_config
    from econnect_bridge.doctor import DoctorOptions, exit_code, render, run_doctor

    try:
        config = load_config(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    setup_logging("WARNING")
    options = DoctorOptions(listen=max(0.0, args.listen), publish_test_image=not args.no_publish)
    print(f"econnect-bridge doctor: {args.config}\n")
    findings = run_doctor(config, options)
    print(render(findings), end="")
    return exit_code(findings)


def _recognize(args: argparse.Namespace) -> int:
    from econnect_bridge.recognize import RecognizeJob, expand_paths, run_recognize
    from econnect_identities.models import PublishOptions

    setup_logging("WARNING")
    try:
        client, time_zone = _recognize_client(args)
    except (ValueError, LookupError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    options = PublishOptions(
        largest_face_only=not args.all_faces,
        include_person=True,
        include_names=True,
        include_tags=True,
        include_fields=True,
    )
    job = RecognizeJob(
        paths=tuple(expand_paths(args.images)),
        detector_name=args.detector,
        time_zone=args.time_zone or time_zone,
        options=options,
        as_json=args.json,
    )
    with client:
        return run_recognize(client, job)


def _recognize_client(args: argparse.Namespace) -> tuple[EconnectClient, str]:
    from econnect_bridge import client as econnect_client
    from econnect_bridge.app import engine_client
    from econnect_bridge.config import ConfigError, load_config

    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as err:
            raise ValueError(str(err)) from err
        return engine_client(config), config.api.time_zone
    if not (args.url and args.username):
        raise ValueError("give -c FILE, or --url and --username")
    password = os.environ.get(PASSWORD_ENV) or _prompt_password(args.username)
    client = econnect_client.EconnectClient(
        args.url,
        username=args.username,
        password=password,
        verify_ssl=not args.insecure,
        ca_file=args.ca_file,
    )
    return client, _local_time_zone()


def _prompt_password(username: str) -> str:
    if not sys.stdin.isatty():
        raise LookupError(f"no password: set ${PASSWORD_ENV} (no terminal to prompt on)")
    return getpass.getpass(f"Password for {username}: ")


def _local_time_zone() -> str:
    from econnect_bridge.config.validators import local_time_zone

    return local_time_zone()


DEMO_EXTRA_HINT = (
    "econnect-bridge demo needs its embedded MQTT broker (amqtt), which a plain install leaves "
    "out: pip install 'econnect-bridge[demo]' (from a checkout: pip install '.[demo]')"
)


def _demo(args: argparse.Namespace) -> int:
    try:
        import amqtt  # noqa: F401  - only the demo's embedded broker needs it
    except ImportError:
        print(DEMO_EXTRA_HINT, file=sys.stderr)
        return 2
    from econnect_bridge.demo import run_demo

    return run_demo(keep_running=args.keep_running)
