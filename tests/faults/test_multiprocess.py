"""Several processes, one PostgreSQL, one S3: three `python -m app serve` (TOD_SCHEDULER=off)
and one `python -m app scheduler` on a database of their own on the suite's throwaway cluster
and a moto S3 server on loopback. A login made on one works on the others, a rate limit holds
across them, the week's publication happens once however many processes ask for it at once, a
photo uploaded to one is served by the others.

(The live-session check, a storskjerm answer reaching a screen on another process, is added
with that feature.)
"""

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx
import pytest
from sqlmodel import Session, func, select

from app.auth.service import create_magic_link
from app.kernel.audit import AuditEvent
from app.kernel.clock import utcnow
from app.weekly.models import (
    ConsentAnswer,
    Feature,
    FeatureConsent,
    FeatureStatus,
    Webhook,
    WebhookDelivery,
    WebhookKind,
)
from tests.conftest import _pg_database
from tests.faults.support import (
    ORG,
    ROOT,
    Proc,
    api,
    app_server,
    engine_for,
    give_body,
    running,
    server_env,
    set_up,
)
from tests.pg import _free_port

pytestmark = [pytest.mark.xdist_group("faults_multiprocess"), pytest.mark.slow]
WRITES_PER_MINUTE = 6
BUCKET = "tod-multi"


@pytest.fixture
def s3() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-north-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
    try:
        yield f"s3://{BUCKET}/photos?endpoint={endpoint}&region=eu-north-1"
    finally:
        server.stop()


def _week_feature(url: str, recipient: int) -> tuple[int, str]:
    """An approved feature for this ISO week, naming nobody, and a webhook that announces it."""
    engine = engine_for(url)
    try:
        with Session(engine) as s:
            year, week, _ = utcnow().isocalendar()
            org_id = s.exec(select(Feature.org_id)).first()  # none yet
            assert org_id is None
            from app.orgs.models import Organisation

            org = s.exec(select(Organisation).where(Organisation.slug == ORG)).one()
            feature = Feature(
                org=org,
                recognition=None,
                iso_year=year,
                iso_week=week,
                status=FeatureStatus.approved,
                headline="Vaktlaget som holdt hjulene i gang",
                body="Hele teknisk etat stilte opp da flommen kom.",
            )
            feature.consents.append(
                FeatureConsent(
                    person_id=recipient,
                    answer=ConsentAnswer.yes,
                    token_hash=secrets.token_hex(32),
                    answered_at=utcnow(),
                )
            )
            s.add(feature)
            s.add(
                Webhook(
                    org_id=org.id, kind=WebhookKind.generic, name="Intranett",
                    url="https://intranett.feilby.example/hook", secret="s" * 32,
                )
            )  # fmt: skip
            s.commit()
            return feature.id or 0, f"{year}-W{week:02d}"
    finally:
        engine.dispose()


def _count(url: str, stmt) -> int:
    engine = engine_for(url)
    try:
        with Session(engine) as s:
            return int(s.exec(stmt).one())
    finally:
        engine.dispose()


def test_three_app_processes_and_a_scheduler_share_one_postgres_and_one_s3(tmp_path, s3):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    url = _pg_database(f"tod_multi_{worker}")
    d = set_up(url)
    feature_id, week = _week_feature(url, d.recipients[0])
    env = server_env(
        url,
        tmp_path,
        TOD_MEDIA_URL=s3,
        TOD_WRITE_RATE_PER_MINUTE=str(WRITES_PER_MINUTE),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    env.pop("AWS_PROFILE", None)
    a, b, c = (app_server(env, tmp_path / f"log-{n}") for n in "abc")
    scheduler = Proc(["scheduler"], env, tmp_path / "log-scheduler")
    with running(a, b, c, scheduler):
        # A login made on A (the magic link from the e-mail, confirmed on its page).
        engine = engine_for(url)
        with Session(engine) as s:
            from app.orgs.models import Person

            admin = s.get(Person, d.admin_id)
            raw = create_magic_link(s, admin)
            s.commit()
        engine.dispose()
        browser = httpx.Client(headers={"Accept-Language": "nb"}, timeout=30)
        confirm = browser.get(f"{a.base_url}/auth/magic/{raw}")
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', confirm.text)
        assert confirm.status_code == 200 and token
        done = browser.post(
            f"{a.base_url}/auth/magic/{raw}",
            data={"csrf_token": token.group(1)},
            headers={"Origin": a.base_url},  # the page's own origin, as a browser sends it
            follow_redirects=False,
        )
        assert done.status_code == 303 and "tod_session" in done.cookies
        cookie = {"tod_session": done.cookies["tod_session"]}
        for proc in (b, c):  # ... is a login on B and C
            me = httpx.get(f"{proc.base_url}/{ORG}/me", cookies=cookie, timeout=30)
            assert me.status_code == 200 and "Åse Admin" in me.text, proc.base_url

        # One person's writes, spread over the three processes: one budget.
        giver = d.givers[0]
        statuses = []
        for n in range(WRITES_PER_MINUTE + 3):
            proc = (a, b, c)[n % 3]
            with api(proc.base_url, d.tokens[giver]) as client:
                response = client.post(
                    "/recognitions", json=give_body(d, f"Takk for innsatsen, runde {n}!", n=n)
                )
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) > 0
        assert statuses == [201] * WRITES_PER_MINUTE + [429] * 3, statuses

        # A photo uploaded to A is served by B and C (from the shared bucket).
        from tests.helpers import jpeg

        with api(a.base_url, d.tokens[d.admin_id]) as client:
            up = client.post("/media", files={"file": ("foto.jpg", jpeg(), "image/jpeg")})
        assert up.status_code == 201, up.text
        variant = up.json()["variants"][0]["url"]
        served = [
            httpx.get(f"{p.base_url}{variant}", cookies=cookie, timeout=30) for p in (a, b, c)
        ]
        assert [r.status_code for r in served] == [200, 200, 200]
        assert served[0].content == served[1].content == served[2].content
        assert served[1].headers["content-type"].startswith("image/")

        # The week's publication asked for by three processes at once: published once.
        def publish() -> str:
            result = subprocess.run(
                [sys.executable, "-m", "app", "weekly", "publish", "--org", ORG, "--week", week],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            return result.stdout

        with ThreadPoolExecutor(3) as pool:
            outputs = list(pool.map(lambda _: publish(), range(3)))
        assert sum("already" not in out for out in outputs) == 1, outputs
        browser.close()

    assert _count(url, select(func.count()).select_from(Feature).where(
        Feature.id == feature_id, Feature.status == FeatureStatus.published
    )) == 1  # fmt: skip
    assert _count(url, select(func.count()).select_from(WebhookDelivery)) == 1
    assert _count(url, select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "feature.publish"
    )) <= 1  # fmt: skip
    for proc in (a, b, c, scheduler):
        log = proc.log()
        assert "Traceback" not in log and '"status": 5' not in log, log[-3000:]
    assert "scheduler started" in scheduler.log()
