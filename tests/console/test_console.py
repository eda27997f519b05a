"""The web console: its routes in-process, and its pages in headless Chromium against a live server.

The browser test drives Debian's `chromium` through Playwright's own driver (shipped in the
wheel), never a downloaded browser. It watches a real tuning job with early stopping: the pages
render, the counters change while jobs run without reloading the page, the charts carry every
point the API has, the table sorts, and a training job's page shows its transitions, metrics and
log. With AMT_CONSOLE_SCREENSHOT=PATH it also saves the finished tuning job's page there (that is
how docs/console.png is made).
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from emulator.api.app import create_app
from emulator.console.routes import MAX_TAIL, read_tail
from emulator.settings import Settings
from tests.conftest import Server, start_server
from tests.requests import training_request, tuning_request

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
JSON_11 = "application/x-amz-json-1.1"


# ---- routes, in-process -----------------------------------------------------------------


@pytest.fixture
async def client(tmp_path: Path) -> Any:
    app = create_app(Settings(data_dir=tmp_path))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def create_training_job(client: Any, name: str) -> None:
    response = await client.post(
        "/",
        data=json.dumps(training_request(name)),
        headers={"X-Amz-Target": "SageMaker.CreateTrainingJob", "Content-Type": JSON_11},
    )
    assert response.status == 200, await response.text()


async def test_console_page_and_static_files_are_served(client):
    index = await client.get("/console/")
    assert index.status == 200
    html = await index.text()
    assert "static/app.js" in html and "static/style.css" in html
    for path, kind in (("app.js", "javascript"), ("style.css", "css")):
        response = await client.get(f"/console/static/{path}")
        assert response.status == 200
        assert kind in response.headers["Content-Type"]
    redirect = await client.get("/console", allow_redirects=False)
    assert redirect.status == 302 and redirect.headers["Location"] == "/console/"


async def test_static_files_cannot_escape_their_folder(client):
    for path in ("/console/static/../routes.py", "/console/static/%2e%2e/routes.py"):
        response = await client.get(path)
        assert "add_routes" not in await response.text()


async def test_log_tail_returns_the_last_lines(client, tmp_path):
    await create_training_job(client, "tail-job")
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "tail-job.log").write_text("".join(f"line {i}\n" for i in range(1, 301)))
    response = await client.get("/_emulator/training-jobs/TAIL-JOB/logs?tail=3")
    assert response.status == 200
    assert await response.json() == {
        "TrainingJobName": "tail-job",
        "Lines": ["line 298", "line 299", "line 300"],
    }
    default = await (await client.get("/_emulator/training-jobs/tail-job/logs")).json()
    assert default["Lines"][0] == "line 201" and len(default["Lines"]) == 100


async def test_log_tail_of_a_job_without_log_is_empty(client):
    await create_training_job(client, "quiet-job")
    response = await client.get("/_emulator/training-jobs/quiet-job/logs?tail=5")
    assert (await response.json())["Lines"] == []


@pytest.mark.parametrize(
    ("name", "tail"),
    [("no-such-job", "5"), ("..%2F..%2Famt.sqlite3", "5"), ("tail-job", "x"), ("tail-job", "-1")],
)
async def test_log_tail_rejects_unknown_jobs_and_bad_counts(client, name, tail):
    await create_training_job(client, "tail-job")
    response = await client.get(f"/_emulator/training-jobs/{name}/logs?tail={tail}")
    assert response.status == 400
    assert (await response.json())["__type"] == "ValidationException"


def test_read_tail_drops_a_line_cut_by_the_read_window(tmp_path, monkeypatch):
    import emulator.console.routes as routes

    path = tmp_path / "long.log"
    path.write_text("".join(f"{i:04d}\n" for i in range(1000)))  # 5 bytes a line
    monkeypatch.setattr(routes, "TAIL_READ_BYTES", 12)  # "8\n0998\n0999\n": a cut line first
    assert read_tail(path, 10) == ["0998", "0999"]
    assert read_tail(path, 0) == []
    assert len(read_tail(path, 10**6)) <= MAX_TAIL


# ---- pages, in headless Chromium ---------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
    )
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("amt-console"), extra_args=["--stop-grace", "3"])
    yield srv
    srv.process.stop()


def early_stopping_job(name: str) -> dict[str, Any]:
    """A Bayesian search wide enough that the median rule stops its poor jobs."""
    log_range = {"ScalingType": "Logarithmic"}
    return tuning_request(
        name,
        HyperParameterTuningJobConfig={
            "Strategy": "Bayesian",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2},
            "TrainingJobEarlyStoppingType": "Auto",
            "RandomSeed": 11,
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "learning_rate", "MinValue": "0.00001", "MaxValue": "1", **log_range},
                    {"Name": "alpha", "MinValue": "0.000001", "MaxValue": "1", **log_range},
                ],
                "CategoricalParameterRanges": [],
            },
        },
        TrainingJobDefinition={"StaticHyperParameters": {"epochs": "6", "sleep_per_epoch": "0.3"}},
    )


def counters(page: Any) -> dict[str, int]:
    return page.eval_on_selector_all(
        "[data-counter]",
        "els => Object.fromEntries(els.map(e => "
        "[e.dataset.counter, Number(e.querySelector('.num').textContent)]))",
    )


def column(page: Any, table: str, index: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr td:nth-child({index})", "cells => cells.map(c => c.textContent)"
    )


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # only 127.0.0.1
        return json.loads(response.read())


def metric_series(endpoint: str, job: str) -> dict[str, list[Any]]:
    return get_json(f"{endpoint}/_emulator/training-jobs/{job}/metrics")["Metrics"]


@pytest.mark.slow
def test_console_follows_a_live_tuning_job(browser, console_server, unique):
    sm, endpoint = console_server.sagemaker, console_server.endpoint
    name = unique("early-stopping")[:32]
    sm.create_hyper_parameter_tuning_job(**early_stopping_job(name))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # The list shows the job; its link opens the tuning job's page.
    page.goto(f"{endpoint}/console/")
    page.get_by_role("link", name=name).click()
    page.wait_for_selector("#counters [data-counter=Completed]")
    assert page.get_attribute("#view", "data-status") == "InProgress"

    # Live: the counters change while jobs run, with no reload of the page.
    first = counters(page)
    page.wait_for_function(
        "before => [...document.querySelectorAll('[data-counter]')].some(e => "
        "Number(e.querySelector('.num').textContent) !== before[e.dataset.counter])",
        arg=first,
        timeout=60_000,
    )
    assert counters(page) != first
    assert page.is_visible("#live")

    page.wait_for_selector("#view[data-status=Completed]", timeout=180_000)
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    jobs = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100
    )["TrainingJobSummaries"]
    shown = counters(page)
    api = desc["TrainingJobStatusCounters"]
    assert shown["Completed"] == api["Completed"]
    assert shown["Stopped"] == api["Stopped"]
    assert shown["InProgress"] == 0
    assert shown["Launched"] == len(jobs) == 8
    assert page.is_hidden("#live")
    best = desc["BestTrainingJob"]
    assert page.text_content("#best a") == best["TrainingJobName"]

    # Charts: a marker per finished job at its end time, a curve point per objective point.
    def objective_of(job: dict[str, Any]) -> Any:
        return job.get("FinalHyperParameterTuningJobObjectiveMetric")

    by_status = {
        status: sum(1 for j in jobs if j["TrainingJobStatus"] == status and objective_of(j))
        for status in ("Completed", "Stopped")
    }
    assert page.locator("#objective-svg g.completed .pt").count() == by_status["Completed"]
    assert page.locator("#objective-svg g.stopped .pt").count() == by_status["Stopped"]
    assert page.locator("#objective-svg g.best .pt").count() == 1
    metric = "validation:accuracy"
    points = sum(len(metric_series(endpoint, j["TrainingJobName"]).get(metric, [])) for j in jobs)
    assert points >= 8
    assert int(page.get_attribute("#curves-svg", "data-points")) == points
    assert page.locator("#curves-svg g.curve").count() == len(jobs)
    assert page.locator("#curves-svg g.curve.stopped").count() == api["Stopped"]

    # The training jobs table sorts by clicking a header, both ways.
    assert sorted(column(page, "jobs-table", 1)) == sorted(j["TrainingJobName"] for j in jobs)
    page.click("#jobs-table th[data-key=objective]")
    values = [float(v) for v in column(page, "jobs-table", 3)]
    assert values == sorted(values)
    page.click("#jobs-table th[data-key=objective]")
    values = [float(v) for v in column(page, "jobs-table", 3)]
    assert values == sorted(values, reverse=True)
    assert values[0] == pytest.approx(
        best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], rel=1e-4
    )
    assert not errors
    if target := os.environ.get("AMT_CONSOLE_SCREENSHOT"):
        page.click("#jobs-table th[data-key=name]")
        page.screenshot(path=target, full_page=True)

    # The best training job's page: transitions, metrics, log tail.
    page.click("#best a")
    page.wait_for_selector("#transitions-table tbody tr")
    page.wait_for_selector("#log-tail")
    training = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
    transitions = training["SecondaryStatusTransitions"]
    assert column(page, "transitions-table", 1) == [t["Status"] for t in transitions]
    assert column(page, "transitions-table", 5) == [t.get("StatusMessage", "") for t in transitions]
    assert sorted(column(page, "final-metrics", 1)) == sorted(
        m["MetricName"] for m in training["FinalMetricDataList"]
    )
    series = metric_series(endpoint, best["TrainingJobName"])
    charts = page.eval_on_selector_all(
        "#metric-charts figure",
        "fs => Object.fromEntries(fs.map(f => "
        "[f.querySelector('figcaption').textContent, "
        "Number(f.querySelector('svg').dataset.points)]))",
    )
    assert charts == {metric: len(points) for metric, points in series.items()}
    shown_hyperparameters = page.eval_on_selector_all(
        "#hyperparameters-table tr",
        "rows => Object.fromEntries(rows.map(r => "
        "[r.cells[0].textContent, r.cells[1].textContent]))",
    )
    assert shown_hyperparameters == training["HyperParameters"]
    log = page.text_content("#log-tail") or ""
    tail = get_json(f"{endpoint}/_emulator/training-jobs/{best['TrainingJobName']}/logs?tail=200")
    assert "epoch=1 " in log and log.splitlines() == tail["Lines"]

    # Back to the list through the breadcrumbs: the job, finished, with its best objective.
    page.click("#crumbs a[href^='#/tuning/']")
    page.wait_for_selector("#view[data-status=Completed]")
    page.click("#crumbs a[href='#/']")
    row = page.locator("#tuning-jobs-table tbody tr", has_text=name)
    row.locator(".badge", has_text="Completed").wait_for()
    shown_best = row.locator("td:nth-child(5)").text_content() or ""
    assert float(shown_best.split()[0]) == pytest.approx(values[0], rel=1e-4)
    assert not errors
    page.close()
