"""The SCIM compliance tester (scim2-tester) against the app run as it runs.

`python -m app serve` in its own process on a fresh database (SQLite and PostgreSQL), production
settings; the operator makes the organisation and its SCIM token with the CLI; then
scim2-tester runs every check it has (discovery, create, read, query, replace, PATCH add /
replace / remove on every attribute, delete, errors) over HTTP. An Entra-style provisioning
cycle then runs against the same server, and the server's log must hold no 5xx, lock error or
Traceback.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from tests.conftest import _pg_database
from tests.pg import _free_port

pytestmark = pytest.mark.xdist_group("scim_server")

ROOT = Path(__file__).resolve().parents[2]
ORG = "scimby"
# 501 is the one 5xx that is an answer, not a fault: one search across every resource type.
PROBLEMS = re.compile(r'"status": 5(?!01)\d\d|database is locked|Traceback', re.MULTILINE)
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class Server:
    def __init__(self, base_url: str, token: str, log: Path) -> None:
        self.base_url, self.token, self.log = base_url, token, log
        self.scim = f"{base_url}/scim/v2/{ORG}"

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.scim, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"scim-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'tod.db'}"
    else:
        url = _pg_database(f"tod_scim_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOD_")}
    env.update(
        {
            "TOD_ENV": "production",
            "TOD_SECRET_KEY": "scim-server-test-secret-0123456789-abcdefghijklmnop",
            "TOD_SCHEDULER": "off",
            "TOD_DATABASE_URL": url,
            "TOD_BASE_URL": f"http://127.0.0.1:{port}",
            "TOD_MEDIA_URL": f"file:{tmp / 'media'}",
            "TOD_WORKERS": "1",
            "TOD_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    _run(env, "db", "upgrade")
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _run(env, "org", "create", "--slug", ORG, "--name", "Scimby kommune")
            out = _run(env, "scim", "token", "--org", ORG, "--name", "Entra ID")
            token = out.strip().splitlines()[-1]
            assert token.startswith("scim_") and f"/scim/v2/{ORG}" in out
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok":
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.1)
            yield Server(f"http://127.0.0.1:{port}", token, log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    found = [line for line in log_path.read_text().splitlines() if PROBLEMS.search(line)]
    assert not found, "\n".join(found)


def test_the_scim_compliance_tester_passes(server: Server) -> None:
    with httpx2.Client(
        base_url=server.scim, headers={"Authorization": f"Bearer {server.token}"}, timeout=30
    ) as http:
        results = check_server(SyncSCIMClient(http))
    failed = [
        f"{r.resource_type} {r.title}: {r.reason}"
        for r in results
        if r.status not in (Status.SUCCESS, Status.SKIPPED)
    ]
    assert not failed, "\n".join(failed)
    passed = [r for r in results if r.status == Status.SUCCESS]
    skipped = [r for r in results if r.status == Status.SKIPPED]
    assert len(passed) >= 60, [r.title for r in passed]
    # The one thing not served: one search across every resource type (RFC 7644 lets it be 501).
    assert {r.title for r in skipped} <= {"search_with_attributes"}, skipped


def test_an_entra_provisioning_cycle(server: Server) -> None:
    """What Entra ID does on its first cycle: the connection test, then for each person a query
    by userName, a create, the manager, a group with members, a disable and a delete."""
    with server.http() as scim:
        assert (
            scim.get("/Users", params={"filter": 'userName eq "ab0d5d1e-ae2b"'}).json()[
                "totalResults"
            ]
            == 0
        )
        ids = {}
        for user_name, title in (("leder@scimby.no", "Enhetsleder"), ("ansatt@scimby.no", "")):
            found = scim.get("/Users", params={"filter": f'userName eq "{user_name}"'}).json()
            assert found["totalResults"] == 0
            created = scim.post(
                "/Users",
                json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                    "userName": user_name,
                    "externalId": user_name.split("@")[0],
                    "active": True,
                    "displayName": user_name.split("@")[0].title(),
                    "title": title,
                    "emails": [{"primary": True, "type": "work", "value": user_name}],
                    ENTERPRISE: {"department": "Hjemmetjenesten"},
                },
            )
            assert created.status_code == 201, created.text
            assert created.headers["content-type"].startswith("application/scim+json")
            ids[user_name] = created.json()["id"]
        manager = scim.patch(
            f"/Users/{ids['ansatt@scimby.no']}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": ids["leder@scimby.no"]}
                ],
            },
        )
        assert manager.status_code == 200, manager.text
        group = scim.post(
            "/Groups",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Kommunikasjon",
                "externalId": "g-1",
            },
        ).json()
        added = scim.patch(
            f"/Groups/{group['id']}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Add", "path": "members", "value": [{"value": v} for v in ids.values()]}
                ],
            },
        )
        assert added.status_code == 204
        disabled = scim.patch(
            f"/Users/{ids['ansatt@scimby.no']}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            },
        )
        assert disabled.json()["active"] is False
        assert scim.get(f"/Users/{ids['ansatt@scimby.no']}").json()["active"] is False
        assert scim.delete(f"/Users/{ids['ansatt@scimby.no']}").status_code == 204
        assert scim.get(f"/Users/{ids['ansatt@scimby.no']}").status_code == 404
        members = scim.get(f"/Groups/{group['id']}").json()["members"]
        assert [m["value"] for m in members] == [ids["leder@scimby.no"]]
