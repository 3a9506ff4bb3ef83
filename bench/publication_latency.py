"""Publication latency: from a schedule firing in `broadcaster serve` to the feed and the site.

    .venv/bin/python bench/publication_latency.py [--campaigns 200] [--firings 30] [--spacing 3]

What is measured, end to end in a real `serve` process (its own scheduler, store, workers,
site and feed builders, in-memory HTTP serving), on a throwaway copy of the example
workspace with CAMPAIGNS extra active campaigns `bench-NNN` (copies of `online-submission`,
no expiry, topics `online-services` and one of ten `bench-topic-N`), all published once
(`publish --all --wait`) before the clock starts:

1. `serve` starts; the script then edits campaigns bench-000..N (a marker paragraph, so a
   new revision each), writes FIRINGS `at:` schedules a SPACING apart on channels
   `website, feeds`, and sends SIGHUP (the reload path).
2. Each `at:` fires inside serve (APScheduler -> Publisher.fire -> outbox -> workers ->
   site and feed rebuild -> in-memory swap). Latency = the first moment the script sees
   BOTH /feeds/vi/all.atom with the campaign's entry showing the marker, and the campaign
   page /vi/bench-NNN/ showing the new revision, minus the scheduled fire time. The script
   polls both with conditional GETs every POLL seconds from its own process.

Prints each firing and p50/p95/p99; targets p50 < 200 ms and p99 < 1 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from _common import BIN, Children, broadcaster, copy_workspace, free_port, get, percentile, table
from _common import wait_for as wait_until_up

FEED = "/feeds/vi/all.atom"
SOURCE = "online-submission"
TARGETS = {"p50": 0.2, "p99": 1.0}


def generate(root: Path, count: int) -> None:
    """`count` active campaigns bench-000.. copied from SOURCE, and the topics they use."""
    topics = root / "campaigns" / "topics.yaml"
    extra = {
        f"bench-topic-{i}": {"vi": f"Chủ đề thử {i}", "en": f"Bench topic {i}"} for i in range(10)
    }
    with topics.open("a", encoding="utf-8") as handle:
        handle.write("\n" + yaml.safe_dump(extra, allow_unicode=True, sort_keys=True))
    source = root / "campaigns" / SOURCE
    meta = yaml.safe_load((source / "campaign.yaml").read_text(encoding="utf-8"))
    meta.pop("expires", None)
    meta["valid_from"] = "2021-07-09T00:00:00+07:00"
    for index in range(count):
        target = root / "campaigns" / f"bench-{index:03d}"
        shutil.copytree(source, target)
        meta["topics"] = ["online-services", f"bench-topic-{index % 10}"]
        text = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
        (target / "campaign.yaml").write_text(text, encoding="utf-8")
        for doc in target.glob("*.md"):
            head, _, rest = doc.read_text(encoding="utf-8").partition("\ntitle: ")
            title, _, rest = rest.partition("\n")
            doc.write_text(f"{head}\ntitle: {title} (bench-{index:03d})\n{rest}", encoding="utf-8")


def mark(root: Path, campaign: str, marker: str) -> None:
    """Append a marker paragraph to the campaign's vi.md: a new revision."""
    doc = root / "campaigns" / campaign / "vi.md"
    doc.write_text(doc.read_text(encoding="utf-8") + f"\n\n{marker}\n", encoding="utf-8")


def schedule_firings(root: Path, first: datetime, count: int, spacing: float) -> list[datetime]:
    """Replace schedules.yaml with `count` `at:` firings (UTC, whole seconds)."""
    times = [first + timedelta(seconds=round(i * spacing)) for i in range(count)]
    schedules = [
        {
            "id": f"bench-firing-{i:03d}",
            "campaign": f"bench-{i:03d}",
            "channels": ["website", "feeds"],
            "at": moment.isoformat(),
        }
        for i, moment in enumerate(times)
    ]
    document = {"timezone": "Asia/Ho_Chi_Minh", "schedules": schedules}
    (root / "schedules.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return times


class Watcher:
    """Conditional GETs of one path; remembers the body of the current ETag."""

    def __init__(self, port: int, path: str) -> None:
        self.port, self.path = port, path
        self.etag: str | None = None
        self.body = b""

    def poll(self) -> bytes:
        headers = {"If-None-Match": self.etag} if self.etag else {}
        status, answer, body = get(self.port, self.path, headers)
        if status == 200:
            self.etag, self.body = answer.get("etag"), body
        return self.body


def watch(
    port: int, firings: list[tuple[str, str, str, float]], args: argparse.Namespace
) -> list[tuple[str, float, float]]:
    """For each (campaign, marker, revision, fire time): seconds until the feed shows the
    marker and until the page shows the revision. Every firing that is due is polled in the
    same round, so a backlog never delays the observation of a later firing."""
    feed = Watcher(port, FEED)
    pages = {campaign: Watcher(port, f"/vi/{campaign}/") for campaign, *_ in firings}
    seen: dict[tuple[str, str], float] = {}
    results: list[tuple[str, float, float]] = []
    deadline = firings[-1][3] + args.timeout
    while len(results) < len(firings):
        if time.time() > deadline:
            sys.exit(f"not every firing was reflected within {args.timeout}s: {sorted(seen)}")
        due = [f for f in firings if f[3] <= time.time() and (f[0], "done") not in seen]
        if any((campaign, "feed") not in seen for campaign, *_ in due):
            body = feed.poll()
            arrived = time.time()
            for campaign, marker, _, _ in due:
                if (campaign, "feed") not in seen and marker.encode() in body:
                    seen[(campaign, "feed")] = arrived
        for campaign, _, revision, fired in due:
            if (campaign, "page") not in seen and revision[:12].encode() in pages[campaign].poll():
                seen[(campaign, "page")] = time.time()
            if (campaign, "feed") in seen and (campaign, "page") in seen:
                seen[(campaign, "done")] = 0.0
                result = (
                    campaign,
                    seen[(campaign, "feed")] - fired,
                    seen[(campaign, "page")] - fired,
                )
                results.append(result)
                print(
                    f"  {campaign} fired {datetime.fromtimestamp(fired, UTC):%H:%M:%S}: "
                    f"feed {result[1] * 1000:7.1f} ms, page {result[2] * 1000:7.1f} ms",
                    flush=True,
                )
        time.sleep(args.poll)
    return results


def revisions(root: Path) -> dict[str, str]:
    """Each campaign's revision, as `broadcaster check` prints it (first 12 characters)."""
    out = broadcaster("check", root=root)
    found = {}
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["campaign"] and "revision" in parts:
            found[parts[1]] = parts[parts.index("revision") + 1]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=200, help="active bench campaigns")
    parser.add_argument("--firings", type=int, default=30, help="schedule firings to time")
    parser.add_argument("--spacing", type=float, default=3.0, help="seconds between firings")
    parser.add_argument("--poll", type=float, default=0.005, help="poll interval, seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    if not 1 <= args.firings <= min(args.campaigns, 200) or not 1 <= args.campaigns <= 1000:
        parser.error("need 1 <= --firings <= min(--campaigns, 200) and --campaigns <= 1000")
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    try:
        with Children() as children:
            results = run(children, tmp, args)
    except KeyboardInterrupt:
        sys.exit("interrupted; every process this script started was stopped")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    report(results, args)


def run(children: Children, tmp: Path, args: argparse.Namespace) -> list[tuple[str, float, float]]:
    root = copy_workspace(tmp / "workspace")
    generate(root, args.campaigns)
    schedule_firings(root, datetime(2000, 1, 1, tzinfo=UTC), 0, 1)  # nothing scheduled yet
    started = time.monotonic()
    print(f"workspace {root}: publishing {args.campaigns} + example campaigns ...", flush=True)
    broadcaster("publish", "--all", "--wait", "--channels", "website,feeds", root=root)
    print(f"  published in {time.monotonic() - started:.1f}s", flush=True)
    port = free_port()
    serve = children.start(
        [str(BIN / "broadcaster"), "serve"],
        cwd=root,
        env={"BROADCASTER_LISTEN": f"127.0.0.1:{port}"},
        log=tmp / "serve.log",
    )
    startup = wait_until_up(port, f"/vi/bench-{args.firings - 1:03d}/", 300, serve)
    print(f"serve :{port} up in {startup:.1f}s; log {tmp / 'serve.log'}", flush=True)
    markers = {}
    for index in range(args.firings):
        campaign = f"bench-{index:03d}"
        markers[campaign] = f"Bench marker {os.getpid()}-{index}: revised {time.time():.0f}."
        mark(root, campaign, markers[campaign])
    new = revisions(root)
    lead = max(5.0, 2 * startup)  # the reload (SIGHUP) rebuilds the site before the first firing
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
    times = schedule_firings(root, first, args.firings, args.spacing)
    os.kill(serve.pid, signal.SIGHUP)
    print(f"{args.firings} firings from {first:%H:%M:%S} UTC, {args.spacing}s apart", flush=True)
    firings = [
        (f"bench-{i:03d}", markers[f"bench-{i:03d}"], new[f"bench-{i:03d}"], fired.timestamp())
        for i, fired in enumerate(times)
    ]
    results = watch(port, firings, args)
    return sorted(results)


def report(results: list[tuple[str, float, float]], args: argparse.Namespace) -> None:
    both = [max(feed, page) for _, feed, page in results]
    rows: list[list[object]] = []
    for name, values in (
        ("feed", [r[1] for r in results]),
        ("page", [r[2] for r in results]),
        ("both", both),
    ):
        rows.append(
            [name, *(percentile(values, q) * 1000 for q in (0.5, 0.95, 0.99)), max(values) * 1000]
        )
    print(
        f"\n{len(results)} firings, {args.campaigns} bench campaigns, "
        f"poll {args.poll * 1000:.0f} ms: milliseconds from the scheduled fire time until "
        "reflected\n"
    )
    print(table(["reflected in", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows))
    verdicts = []
    for label, quantile in (("p50", 0.5), ("p99", 0.99)):
        value = percentile(both, quantile)
        ok = "ok" if value < TARGETS[label] else "NOT MET"
        verdicts.append(f"{label} {value * 1000:.0f} ms < {TARGETS[label] * 1000:.0f} ms: {ok}")
    print("\ntargets (both): " + "; ".join(verdicts))


if __name__ == "__main__":
    main()
