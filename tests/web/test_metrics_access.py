"""Who may read /metrics: anyone by default, only a scraper with the bearer token when
BROADCASTER_METRICS_TOKEN is set, and only on its own address with
BROADCASTER_METRICS_LISTEN (a real `serve` process)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pytest_aiohttp import AiohttpClient

from broadcaster.service import make_app
from broadcaster.settings import Settings
from tests.test_serve_processes import Serve, environment, free_port, serving

TOKEN = "scraper-token-for-tests-0123456789"


def settings(workspace: Path, **extra: str) -> Settings:
    environ = {
        "BROADCASTER_DATABASE_URL": f"sqlite+aiosqlite:///{workspace / 'var' / 'bc.db'}",
        **{f"BROADCASTER_{name.upper()}": value for name, value in extra.items()},
    }
    return Settings.from_environ(workspace, environ)


async def test_metrics_are_open_by_default(workspace: Path, aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(make_app(settings(workspace)))
    response = await client.get("/metrics")
    assert response.status == 200
    assert "broadcaster_up 1.0" in await response.text()


async def test_a_metrics_token_is_required_once_set(
    workspace: Path, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(make_app(settings(workspace, metrics_token=TOKEN)))

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        refused = await client.get("/metrics", headers=headers)
        assert refused.status == 401, headers
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert "broadcaster_up" not in await refused.text()

    allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status == 200
    assert "broadcaster_up 1.0" in await allowed.text()
    # The token guards /metrics only: the site and /healthz stay as they were.
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/")).status == 200


async def test_metrics_on_their_own_address_are_not_on_the_sites(
    workspace: Path, tmp_path: Path
) -> None:
    metrics_port = free_port()
    env = environment(
        shutdown_timeout="5", metrics_listen=f"127.0.0.1:{metrics_port}", metrics_token=TOKEN
    )
    process = Serve(workspace, env, tmp_path / "serve.log")
    async with serving(process) as session:
        await process.wait_healthy(session)
        async with session.get(f"{process.url}/metrics") as response:
            assert response.status == 404
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        async with session.get(metrics_url) as response:
            assert response.status == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(metrics_url, headers=bearer) as response:
            assert response.status == 200
            assert "broadcaster_up 1.0" in await response.text()
        async with session.get(f"http://127.0.0.1:{metrics_port}/healthz") as response:
            assert response.status == 404  # the metrics address answers /metrics alone
        assert await process.stop() == 0
    assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in process.output()


async def test_a_taken_metrics_address_stops_serve_at_once(workspace: Path, tmp_path: Path) -> None:
    env = environment(shutdown_timeout="5")
    first = Serve(workspace, env, tmp_path / "first.log")
    async with serving(first) as session:
        await first.wait_healthy(session)
        taken = f"127.0.0.1:{first.port}"
        second = Serve(workspace, {**env, "BROADCASTER_METRICS_LISTEN": taken}, tmp_path / "b")
        await second.start()
        assert second.process is not None
        assert await second.process.wait() == 1
        assert second.output().splitlines() == [
            f"cannot listen on {taken}: Address already in use (BROADCASTER_METRICS_LISTEN)"
        ]
        assert await first.stop() == 0


DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"


async def test_the_grafana_dashboard_queries_only_metrics_the_service_exports(
    workspace: Path, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(make_app(settings(workspace)))
    exported: set[str] = set()
    for family in text_string_to_metric_families(await (await client.get("/metrics")).text()):
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(family.type, ("",))
        exported.update(family.name + suffix for suffix in suffixes)

    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = {name for query in queries for name in re.findall(r"\bbroadcaster_\w+", query)}

    assert used, "the dashboard queries nothing"
    assert used <= exported, f"not exported by /metrics: {sorted(used - exported)}"
    assert {"broadcaster_delivery_outcomes_total", "broadcaster_deliveries"} <= used
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
