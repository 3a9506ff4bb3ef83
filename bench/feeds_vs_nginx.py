"""Feed throughput: `broadcaster serve` against nginx serving the same file, same wrk, same run.

    .venv/bin/python bench/feeds_vs_nginx.py [--repeats 5] [--duration 5] [--connections 32]

Builds a throwaway copy of the example workspace (`broadcaster publish --all --wait`),
starts `broadcaster serve` on it and nginx (one worker, `etag on`, `sendfile on`) on a copy
of the very bytes serve answers for FEED, both on free 127.0.0.1 ports, then runs wrk
against each in alternating order: plain GETs (200) and GETs with `If-None-Match` set to
that server's own current ETag (304). Prints every run and the medians; the target is
serve/nginx >= 0.6 for both. With two or more CPUs, wrk is pinned to CPU 0 and each server
to CPU 1 (`--no-pin` to turn that off), so the servers compete with wrk the same way.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import BIN, Children, broadcaster, copy_workspace, free_port, get, median, table
from _common import wait_for as wait_until_up

FEED = "/feeds/vi/all.atom"
TARGET = 0.6
NGINX_CONF = """\
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    etag on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ application/atom+xml atom; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def prerequisites() -> tuple[str, str]:
    """The paths of wrk and nginx; exits saying what to install when one is missing."""
    missing = []
    wrk = shutil.which("wrk")
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if wrk is None:
        missing.append("wrk (Debian package `wrk`)")
    if nginx is None:
        missing.append("nginx (Debian package `nginx-light` or `nginx`)")
    if missing:
        sys.exit(
            "missing: " + ", ".join(missing) + "\ninstall with: apt-get update && "
            "apt-get install -y wrk nginx-light"
        )
    assert wrk is not None
    assert nginx is not None
    return wrk, nginx


def pin(cpu: int, enabled: bool) -> list[str]:
    """`taskset -c CPU` when pinning is on and possible, else nothing."""
    taskset = shutil.which("taskset")
    if not enabled or taskset is None or (os.cpu_count() or 1) < 2:
        return []
    return [taskset, "-c", str(cpu)]


def run_wrk(
    wrk: list[str], port: int, etag: str | None, args: argparse.Namespace
) -> tuple[float, str]:
    """Requests per second of one wrk run (and a note when wrk saw errors)."""
    command = [*wrk, "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    if etag is not None:
        command += ["-H", f"If-None-Match: {etag}"]
    command.append(f"http://127.0.0.1:{port}{FEED}")
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=args.duration + 60
    )
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if done.returncode != 0 or found is None:
        sys.exit(f"wrk failed: {done.stdout}{done.stderr}")
    notes = re.findall(r"(Non-2xx or 3xx responses: \d+|Socket errors: [^\n]+)", done.stdout)
    return float(found.group(1)), "; ".join(notes)


def check_answers(port: int, body: bytes, name: str) -> str:
    """The server answers FEED with `body` and 304 to its own ETag; returns that ETag."""
    status, headers, got = get(port, FEED)
    if status != 200 or got != body or "etag" not in headers:
        sys.exit(f"{name} does not answer {FEED} with the same bytes and an ETag ({status})")
    etag = headers["etag"]
    status, _, got = get(port, FEED, {"If-None-Match": etag})
    if status != 304 or got:
        sys.exit(f"{name} answers {status}, not 304, to If-None-Match: {etag}")
    return etag


def options(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="no taskset")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    return parser


def checked(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    if not 1 <= args.repeats <= 50 or not 1 <= args.duration <= 60:
        parser.error("--repeats must be 1..50 and --duration 1..60")
    return args


def main() -> None:
    args = checked(options(__doc__.split("\n\n")[0]))
    wrk_path, nginx = prerequisites()
    tmp = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    try:
        with Children() as children:
            root = copy_workspace(tmp / "workspace")
            print(f"workspace {root}: publishing every campaign ...", flush=True)
            broadcaster("publish", "--all", "--wait", root=root)
            port = free_port()
            serve = children.start(
                [*pin(1, args.pin), str(BIN / "broadcaster"), "serve"],
                cwd=root,
                env={"BROADCASTER_LISTEN": f"127.0.0.1:{port}"},
                log=tmp / "serve.log",
            )
            wait_until_up(port, FEED, 120, serve)
            body = get(port, FEED)[2]
            servers = {"nginx": start_nginx(children, tmp, nginx, body, args.pin), "serve": port}
            results = compare(servers, body, [*pin(0, args.pin), wrk_path], args)
    except KeyboardInterrupt:
        sys.exit("interrupted; every process this script started was stopped")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)


def start_nginx(children: Children, tmp: Path, nginx: str, body: bytes, pinned: bool) -> int:
    """nginx serving `body` at FEED on a free port (its files world-readable: workers may
    run as `nobody`); returns the port."""
    port = free_port()
    www = tmp / "www"
    (www / FEED.lstrip("/")).parent.mkdir(parents=True)
    (www / FEED.lstrip("/")).write_bytes(body)
    for path in (tmp, www, *www.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    state = tmp / "nginx"
    state.mkdir()
    conf = state / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=state, port=port, root=www))
    command = [nginx, "-p", str(state), "-e", str(state / "error.log"), "-c", str(conf)]
    server = children.start(
        [*pin(1, pinned), *command, "-g", "daemon off;"], log=state / "stdout.log"
    )
    wait_until_up(port, FEED, 30, server)
    return port


def compare(
    servers: dict[str, int], body: bytes, wrk: list[str], args: argparse.Namespace
) -> dict[tuple[str, str], list[float]]:
    """wrk against each server in turn (nginx first, then rotating), 200s then 304s."""
    etags = {name: check_answers(port, body, name) for name, port in servers.items()}
    names = list(servers)
    listing = ", ".join(f"{name} :{port}" for name, port in servers.items())
    print(f"{FEED}: {len(body)} bytes; {listing}", flush=True)
    for port in servers.values():  # warm-up, not counted
        run_wrk(wrk, port, None, argparse.Namespace(**{**vars(args), "duration": 1}))
    results: dict[tuple[str, str], list[float]] = {}
    for round_ in range(args.repeats):
        shift = round_ % len(names)
        order = names[shift:] + names[:shift]
        for status in ("200", "304"):
            line = []
            for name in order:
                etag = etags[name] if status == "304" else None
                rate, notes = run_wrk(wrk, servers[name], etag, args)
                results.setdefault((name, status), []).append(rate)
                line.append(f"{name} {rate:,.0f}/s" + (f" ({notes})" if notes else ""))
            print(f"round {round_ + 1} {status}: {', '.join(line)}", flush=True)
    return results


def report(results: dict[tuple[str, str], list[float]], args: argparse.Namespace) -> None:
    """Median req/s per server and the median of per-round ratios to nginx."""
    names = sorted({name for name, _ in results if name != "nginx"})
    rows: list[list[object]] = []
    for status in ("200", "304"):
        nginx = results[("nginx", status)]
        rows.append([f"{status} nginx", median(nginx), 1.0, ""])
        for name in names:
            rates = results[(name, status)]
            ratio = median([s / n for s, n in zip(rates, nginx, strict=True)])
            verdict = "ok" if ratio >= TARGET else "BELOW TARGET"
            rows.append([f"{status} {name}", median(rates), ratio, f">= {TARGET} {verdict}"])
    print(
        f"\nGET {FEED}, wrk -t1 -c{args.connections} -d{args.duration}s, {args.repeats} "
        "rounds: median req/s; ratio = median of the per-round ratios to nginx\n"
    )
    print(table(["response / server", "req/s", "ratio", "target"], rows))


if __name__ == "__main__":
    main()
