"""Email fan-out: one publication to N confirmed subscribers through Postfix's smtp-sink.

    .venv/bin/python bench/email_fanout.py [--subscribers 100000] [--repeats 3]
        [--connections 8] [--dkim none,rsa] [--baseline 30000] [--database sqlite|URL]
        [--profile FILE]   # pyinstrument (pip install pyinstrument) of the fan-out child
        [--processes 2]    # 1 and 2 delivery processes side by side: both rates, the ratio
    .venv/bin/python bench/email_fanout.py --rss 100000,1000000   # peak RSS per list size

Each run gets a fresh throwaway workspace and database, N subscribers inserted directly,
and `smtp-sink` (apt-get install postfix) on a free loopback port, killed at the end.
The fan-out runs in a child process of its own (so its peak RSS, VmHWM, is the fan-out's
alone): the real publisher, outbox, subscriber store, token signer, email channel and
delivery workers, timed from the publish call (publication created, recipients streamed
into the outbox) until the last batch of accepted messages is recorded as delivered.
The baseline, in another child, is a bare aiosmtplib client sending one pre-built
message over the same number of connections to the same sink. Both run on uvloop, as
`serve` does (--loop asyncio for the default loop). Prints every run (with the CPU per
message of the fan-out process, of its DKIM signing processes and of smtp-sink) and the
medians.
With --processes N, each repeat runs the fan-out twice on fresh databases, first with one
delivery process, then with N (the fan-out child and N-1 "drain" children claiming from the
same outbox, as `broadcaster worker` does), and prints both rates and their ratio (no bare
client baseline then); the N-process run is timed until the last batch any process records.
Only loopback traffic; every run is bounded by --timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _fanout_children import baseline, drain, fanout, sample_message, seed

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SINK = "/usr/sbin/smtp-sink"
SECRET = "bench-secret-key-0123456789abcdefghijklmnop"


def _workspace(target: Path, port: int, connections: int, dkim: str) -> Path:
    for part in ("campaigns", "channels", "schedules.yaml", "workspace.yaml"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        else:
            shutil.copy2(source, target / part)
    channel = target / "channels" / "citizens.yaml"
    text = channel.read_text("utf-8").replace("connections: 8", f"connections: {connections}")
    if dkim == "rsa":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (target / "dkim.key").write_bytes(pem)
        text += "dkim: {domain: example.gov.vn, selector: bench, key_file: dkim.key}\n"
    channel.write_text(text, "utf-8")
    return target


def _env(root: Path, port: int, database: str) -> dict[str, str]:
    return {
        "BROADCASTER_SECRET_KEY": SECRET,
        "BROADCASTER_BASE_URL": "https://thongtin.example.gov.vn",
        "BROADCASTER_DATABASE_URL": database or f"sqlite+aiosqlite:///{root}/var/bench.db",
        "MAIL_TRANSPORT": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
    }


def _cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU seconds a running process has used (from /proc); with `children`,
    plus those of its children that have exited."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _server_cpu_seconds() -> float:
    """CPU seconds of the local PostgreSQL server: every `postgres` process, plus the
    backends that have exited (counted in the postmaster's children's time); 0 if there
    is none on this host."""
    names = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.split("(", 1)[1].rsplit(")", 1)[0] == "postgres":
                names[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])  # ppid
    total = 0.0
    for pid, parent in names.items():
        try:
            total += _cpu_seconds(pid, children=parent not in names)
        except OSError:
            continue
    return total


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(args: argparse.Namespace) -> None:
    root, env = Path(args.root), json.loads(args.env)
    # `serve` runs on uvloop (broadcaster.web.app); so do the fan-out and the baseline.
    run = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        run = uvloop.run
    if args.child == "seed":
        asyncio.run(seed(root, env, args.subscribers))
        sample_message(root, env)
        result: dict[str, float] = {}
    elif args.child == "fanout" and args.profile:
        from pyinstrument import Profiler

        with Profiler(async_mode="disabled") as profiler:
            result = run(fanout(root, env, args.timeout))
        Path(args.profile).write_text(profiler.output_text(unicode=True, show_all=False))
    elif args.child == "fanout":
        result = run(fanout(root, env, args.timeout, args.processes, args.loop))
    elif args.child == "drain":
        result = run(drain(root, env))
    else:
        result = run(baseline(root, env, args.baseline, args.connections))
    result["peak_rss_mb"] = peak_rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # all threads of the child
    # Its DKIM signing processes (stopped, so reaped, when the channel closed).
    signing = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["signing_cpu_seconds"] = signing.ru_utime + signing.ru_stime
    print(json.dumps(result))


# -- the orchestrator ------------------------------------------------------------------


def run_child(
    kind: str, root: Path, env: dict[str, str], args: argparse.Namespace, **extra: object
) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        kind,
        "--root",
        str(root),
        "--env",
        json.dumps(env),
    ]
    command += ["--timeout", str(args.timeout), "--connections", str(args.connections)]
    command += ["--loop", args.loop]
    if args.profile and kind == "fanout":
        command += ["--profile", str(Path(args.profile).resolve())]
    for name, value in extra.items():
        command += [f"--{name}", str(value)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=args.timeout + 120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def one_run(
    args: argparse.Namespace,
    subscribers: int,
    dkim: str,
    with_baseline: bool,
    processes: int = 1,
) -> dict[str, float]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    database = args.database
    if database.startswith("postgresql"):  # a fresh database on that server per run
        server, _, _ = database.rpartition("/")
        name = f"bench_fanout_{os.getpid()}_{port}"
        host = server.split("@")[-1].split(":")[0]
        subprocess.run(["createdb", "-h", host, "-U", "postgres", name], check=True)
        database = f"{server}/{name}"
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as folder:
        root = _workspace(Path(folder) / "ws", port, args.connections, dkim)
        env = _env(root, port, database)
        sink = subprocess.Popen(
            [SINK, "-u", "root", f"127.0.0.1:{port}", "1000"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.3)
            run_child("seed", root, env, args, subscribers=subscribers)
            before, server_before = _cpu_seconds(sink.pid), _server_cpu_seconds()
            result = run_child("fanout", root, env, args, processes=processes)
            result["server_ms_per_message"] = (
                1000 * (_server_cpu_seconds() - server_before) / result["delivered"]
            )
            result["sink_ms_per_message"] = (
                1000 * (_cpu_seconds(sink.pid) - before) / result["delivered"]
            )
            result["cpu_ms_per_message"] = 1000 * result["cpu_seconds"] / result["delivered"]
            result["signing_ms_per_message"] = (
                1000 * result["signing_cpu_seconds"] / result["delivered"]
            )
            if with_baseline:
                bare = run_child("baseline", root, env, args, baseline=args.baseline)
                result["baseline_rate"] = bare["rate"]
                result["ratio"] = result["rate"] / bare["rate"]
                result["baseline_cpu_ms"] = 1000 * bare["cpu_seconds"] / args.baseline
        finally:
            sink.kill()
            sink.wait()
            if database != args.database:
                drop = ["dropdb", "-h", host, "-U", "postgres", "--force", name]
                subprocess.run(drop, check=False)
    return result


def busy(result: dict[str, float], delivery_ms: float) -> float:
    """Cores kept busy by a run: its rate times the CPU per message of the delivery
    processes, the database server and smtp-sink (what bounds the ratio on one host)."""
    per_message = delivery_ms + result["server_ms_per_message"] + result["sink_ms_per_message"]
    return result["rate"] * per_message / 1000


def side_by_side(args: argparse.Namespace) -> None:
    """Each repeat: the fan-out with one delivery process, then with --processes, each on
    a fresh database; the rates and their ratio, then the medians."""
    for dkim in args.dkim.split(","):
        ratios, singles, multis = [], [], []
        for repeat in range(args.repeats):
            single = one_run(args, args.subscribers, dkim, with_baseline=False)
            multi = one_run(args, args.subscribers, dkim, False, processes=args.processes)
            singles.append(single["rate"])
            multis.append(multi["rate"])
            ratios.append(multi["rate"] / single["rate"])
            cpu = [
                1000 * (r["cpu_seconds"] + r["signing_cpu_seconds"]) / r["delivered"]
                for r in (single, multi)
            ]
            server = (  # SQLite works inside the delivery processes
                f"{single['server_ms_per_message']:.3f} / "
                f"{multi['server_ms_per_message']:.3f} ms in the database server, "
                if args.database.startswith("postgresql")
                else ""
            )
            print(
                f"dkim={dkim} run {repeat + 1}: 1 process {single['rate']:.0f} msg/s "
                f"({single['delivered']:.0f} in {single['seconds']:.1f} s, enqueue "
                f"{single['enqueue_seconds']:.1f} s), {args.processes} processes "
                f"{multi['rate']:.0f} msg/s ({multi['delivered']:.0f} in "
                f"{multi['seconds']:.1f} s, enqueue {multi['enqueue_seconds']:.1f} s); "
                f"ratio {ratios[-1]:.2f}; CPU per message {cpu[0]:.3f} / {cpu[1]:.3f} ms "
                f"in the delivery processes, {server}"
                f"{single['sink_ms_per_message']:.3f} / {multi['sink_ms_per_message']:.3f} ms "
                f"in smtp-sink; cores busy {busy(single, cpu[0]):.2f} / "
                f"{busy(multi, cpu[1]):.2f} of {os.cpu_count()}",
                flush=True,
            )
        print(
            f"dkim={dkim} median: 1 process {statistics.median(singles):.0f} msg/s, "
            f"{args.processes} processes {statistics.median(multis):.0f} msg/s, "
            f"ratio {statistics.median(ratios):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--dkim", default="none,rsa")
    parser.add_argument(
        "--baseline", type=int, default=30_000, help="messages the bare client sends"
    )
    parser.add_argument(
        "--database",
        default="",
        help="default: a fresh SQLite file per run; postgresql+asyncpg://postgres@HOST/x: "
        "a fresh database on that server per run (createdb/dropdb)",
    )
    parser.add_argument("--rss", default="", help="list sizes for the peak-RSS comparison")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument(
        "--profile", default="", help="write a pyinstrument profile of the fan-out to this file"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="also run each fan-out with this many delivery processes and print the ratio",
    )
    parser.add_argument("--child", choices=["seed", "fanout", "baseline", "drain"])
    parser.add_argument("--root")
    parser.add_argument("--env")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not os.path.exists(SINK):
        sys.exit(f"{SINK} is missing: apt-get install -y postfix")
    if args.rss:
        sizes = [int(n) for n in args.rss.split(",")]
        peaks = {}
        for size in sizes:
            result = one_run(args, size, "none", with_baseline=False)
            peaks[size] = result["peak_rss_mb"]
            rate, peak = result["rate"], result["peak_rss_mb"]
            print(f"{size:>9} subscribers: {rate:7.0f} msg/s, peak RSS {peak:.1f} MB", flush=True)
        first = peaks[sizes[0]]
        for size in sizes[1:]:
            print(f"peak RSS {size} vs {sizes[0]}: {peaks[size] / first - 1:+.1%}")
        return
    if args.processes > 1:
        side_by_side(args)
        return
    for dkim in args.dkim.split(","):
        runs = []
        for repeat in range(args.repeats):
            result = one_run(args, args.subscribers, dkim, with_baseline=True)
            runs.append(result)
            print(
                f"dkim={dkim} run {repeat + 1}: {result['delivered']:.0f} delivered in "
                f"{result['seconds']:.1f} s = {result['rate']:.0f} msg/s (enqueue "
                f"{result['enqueue_seconds']:.1f} s); bare aiosmtplib "
                f"{result['baseline_rate']:.0f} msg/s; ratio {result['ratio']:.2f}; "
                f"peak RSS {result['peak_rss_mb']:.1f} MB; CPU per message "
                f"{result['cpu_ms_per_message']:.3f} ms + signing processes "
                f"{result['signing_ms_per_message']:.3f} ms + smtp-sink "
                f"{result['sink_ms_per_message']:.3f} ms (bare {result['baseline_cpu_ms']:.3f} ms)",
                flush=True,
            )
        rate = statistics.median(r["rate"] for r in runs)
        ratio = statistics.median(r["ratio"] for r in runs)
        bare = statistics.median(r["baseline_rate"] for r in runs)
        print(f"dkim={dkim} median: {rate:.0f} msg/s, bare aiosmtplib {bare:.0f} msg/s", end="")
        print(f", ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
