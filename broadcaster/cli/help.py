"""What every command's --help ends with: the environment variables it reads and one
example. `document(main)` writes them under each command; a test walks every command."""

from __future__ import annotations

import click

DATABASE = "BROADCASTER_DATABASE_URL"
SECRET = "BROADCASTER_SECRET_KEY"  # noqa: S105  (a variable name, not a secret)
BASE_URL = "BROADCASTER_BASE_URL"
TIMEZONE = "BROADCASTER_TIMEZONE"

# One line each, as --help shows them; docs/configuration.md has the whole story.
MEANING = {
    "BROADCASTER_LISTEN": "HOST:PORT to serve on (127.0.0.1:8080)",
    BASE_URL: "public URL in links, feeds and mail (http:// + BROADCASTER_LISTEN)",
    DATABASE: "the store (SQLite var/broadcaster.db in the workspace)",
    SECRET: "signs links, encrypts partner secrets (var/secret_key)",
    TIMEZONE: "when schedules.yaml names none (Asia/Ho_Chi_Minh)",
    "BROADCASTER_CATCH_UP_HOURS": "how old a missed firing may be and still go out (6)",
    "BROADCASTER_SHUTDOWN_TIMEOUT": "seconds deliveries in flight get on stop (30)",
    "BROADCASTER_WORKERS": "delivery loops per process (4)",
    "BROADCASTER_LEASE_SECONDS": "how long a claimed delivery stays with a worker (60)",
    "BROADCASTER_LOG_FORMAT": "text or json (text)",
    "BROADCASTER_TRUSTED_PROXIES": "reverse proxies whose X-Forwarded-For counts (none)",
    "BROADCASTER_BOUNCE_LISTEN": "HOST:PORT of the built-in bounce receiver (off)",
    "BROADCASTER_METRICS_TOKEN": "bearer token /metrics requires (none: open)",
    "BROADCASTER_METRICS_LISTEN": "HOST:PORT answering /metrics alone (BROADCASTER_LISTEN)",
}
SERVE = tuple(MEANING)
DELIVERY = ("BROADCASTER_WORKERS", "BROADCASTER_LEASE_SECONDS", "BROADCASTER_SHUTDOWN_TIMEOUT")
# Commands that read the workspace also resolve the ${VAR} its channel files name.
CHANNEL_VARIABLES = "and the ${VAR} references in channels/*.yaml"

# command path -> (variables read, reads the workspace's channel files, example)
COMMANDS: dict[str, tuple[tuple[str, ...], bool, str]] = {
    "": ((DATABASE, SECRET, BASE_URL), True, "broadcaster check --root /srv/thongbao"),
    "check": ((BASE_URL, TIMEZONE), True, "broadcaster check --root ."),
    "preview": (
        (BASE_URL, TIMEZONE),
        True,
        "broadcaster preview online-submission --locale vi --out /tmp/preview",
    ),
    "serve": (
        SERVE,
        True,
        "BROADCASTER_LISTEN=0.0.0.0:8080 broadcaster serve --root /srv/thongbao",
    ),
    "worker": (
        (DATABASE, SECRET, BASE_URL, TIMEZONE, *DELIVERY, "BROADCASTER_LOG_FORMAT"),
        True,
        "broadcaster worker --root /srv/thongbao",
    ),
    "publish": (
        (DATABASE, SECRET, BASE_URL, TIMEZONE, *DELIVERY),
        True,
        "broadcaster publish online-submission --channels website,feeds --wait",
    ),
    "status": ((DATABASE, SECRET), False, "broadcaster status --json --limit 5"),
    "db": ((DATABASE,), False, "broadcaster db backup /var/backups/broadcaster/store.db"),
    "db upgrade": ((DATABASE,), False, "broadcaster db upgrade --root /srv/thongbao"),
    "db backup": (
        (DATABASE,),
        False,
        'broadcaster db backup "/var/backups/broadcaster/$(date +%F).db"',
    ),
    "db restore": (
        (DATABASE,),
        False,
        "broadcaster db restore /var/backups/broadcaster/2021-07-09.db --yes",
    ),
    "subscribers": ((DATABASE, SECRET), False, "broadcaster subscribers export --out list.csv"),
    "subscribers import": (
        (DATABASE, SECRET),
        False,
        'broadcaster subscribers import list.csv --confirmed --consent-note "paper forms at '
        'the one-stop counter, July 2021"',
    ),
    "subscribers export": ((DATABASE,), False, "broadcaster subscribers export --out list.csv"),
    "bounces": ((DATABASE, SECRET), False, "broadcaster bounces process /var/mail/bounces"),
    "bounces process": (
        (DATABASE, SECRET),
        False,
        "broadcaster bounces process /var/mail/bounces",
    ),
    "partners": ((DATABASE, SECRET), False, "broadcaster partners list"),
    "partners add": (
        (DATABASE, SECRET),
        True,
        "broadcaster partners add baokhanhhoa --url https://tin.example.vn/hooks/broadcaster "
        "--topics online-services",
    ),
    "partners list": ((DATABASE, SECRET), False, "broadcaster partners list"),
    "partners show": ((DATABASE, SECRET), False, "broadcaster partners show baokhanhhoa"),
    "partners rotate-secret": (
        (DATABASE, SECRET),
        False,
        "broadcaster partners rotate-secret baokhanhhoa --grace-hours 48",
    ),
    "partners disable": ((DATABASE, SECRET), False, "broadcaster partners disable baokhanhhoa"),
    "partners enable": ((DATABASE, SECRET), False, "broadcaster partners enable baokhanhhoa"),
    "partners remove": ((DATABASE, SECRET), False, "broadcaster partners remove baokhanhhoa"),
    "partners deliveries": (
        (DATABASE, SECRET),
        False,
        "broadcaster partners deliveries baokhanhhoa --limit 50",
    ),
    "partners replay": ((DATABASE, SECRET, BASE_URL), True, "broadcaster partners replay 1234"),
    "users": ((DATABASE, BASE_URL), False, "broadcaster users list"),
    "users add": (
        (DATABASE, BASE_URL),
        False,
        "broadcaster users add lan --role approver --email lan@example.gov.vn",
    ),
    "users list": ((DATABASE,), False, "broadcaster users list"),
    "users reset": ((DATABASE, BASE_URL), False, "broadcaster users reset lan"),
    "users role": ((DATABASE,), False, "broadcaster users role lan admin"),
    "users disable": ((DATABASE,), False, "broadcaster users disable lan"),
    "users enable": ((DATABASE,), False, "broadcaster users enable lan"),
    "users token": (
        (DATABASE,),
        False,
        "broadcaster users token lan --role author --label newsroom-cms",
    ),
}


def epilog(path: str) -> str:
    """The end of `broadcaster PATH --help`: the variables it reads and one example."""
    variables, channels, example = COMMANDS[path]
    width = max(len(name) for name in variables)
    lines = ["\b", "Environment (see docs/configuration.md):"]
    lines += [f"  {name:<{width}}  {MEANING[name]}" for name in variables]
    if channels:
        lines.append(f"  {CHANNEL_VARIABLES}")
    return "\n".join([*lines, "", "\b", "Example:", f"  {example}"])


def document(command: click.Command, path: str = "") -> None:
    """Give `command` and every command under it its epilog (a command missing from
    COMMANDS is left without one: tests/cli/test_help.py names it)."""
    if path in COMMANDS:
        command.epilog = epilog(path)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            document(sub, f"{path} {name}".strip())
