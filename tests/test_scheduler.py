"""The scheduler: which jobs, how they run, and who starts it."""

import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from fastapi.testclient import TestClient

from app import scheduler
from app.recognition import jobs

ROOT = Path(__file__).resolve().parent.parent


def _never_called():
    raise AssertionError("no session expected")


def test_build_scheduler_registers_the_jobs():
    sched = scheduler.build_scheduler(_never_called)
    found = {job.id: job for job in sched.get_jobs()}
    assert set(found) == {
        "notifications",
        "digests",
        "webhooks",
        "contests",
        "weekly",
        "stories",
        "privacy",
    }
    for job in found.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.misfire_grace_time == job.trigger.interval_length
    assert found["notifications"].trigger.interval_length == 30
    assert found["digests"].trigger.interval_length == 300
    assert found["notifications"].args[0] is jobs.send_due_notifications
    assert found["digests"].args[0] is jobs.send_daily_digests
    assert found["privacy"].trigger.interval_length == 3600
    assert not sched.running


def test_a_failing_job_logs_one_line_and_does_not_raise(caplog):
    def broken(_factory):
        raise ValueError("database went away\nsecond line")

    with caplog.at_level(logging.INFO, logger="tod.scheduler"):
        scheduler.run_job(broken, "broken", _never_called)
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "job broken failed: ValueError: database went away"


def test_jobs_get_the_session_factory():
    seen = []
    scheduler.run_job(lambda factory: seen.append(factory), "probe", _never_called)
    assert seen == [_never_called]


@pytest.mark.parametrize("setting", ["on", "off"])
def test_app_lifespan_starts_the_scheduler_only_when_on(settings_env, setting):
    from app.main import create_app

    settings_env(scheduler=setting)
    app = create_app()
    with TestClient(app):
        sched = app.state.scheduler
        if setting == "off":
            assert sched is None
        else:
            assert sched.running
            assert {job.id for job in sched.get_jobs()} == {
                "notifications",
                "digests",
                "webhooks",
                "contests",
                "weekly",
                "stories",
                "privacy",
            }
    if setting == "on":
        assert not sched.running


def _cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "TOD_ENV": "dev",
        "TOD_DATABASE_URL": f"sqlite:///{tmp_path / 'sched.db'}",
        "PYTHONUNBUFFERED": "1",
    }


def test_cli_scheduler_help(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "app", "scheduler", "--help"],
        cwd=ROOT,
        env=_cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "foreground" in result.stdout
    assert "TOD_SCHEDULER=off" in result.stdout


def test_cli_scheduler_stops_cleanly_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "scheduler"],
        cwd=ROOT,
        env=_cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # blocks until the scheduler says it runs; no sleeping
            lines.append(line)
            if "scheduler started" in line:
                break
        assert any("scheduler started" in line for line in lines), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, "".join(lines) + rest
    assert "SIGTERM received" in rest
    assert "scheduler stopped" in rest
