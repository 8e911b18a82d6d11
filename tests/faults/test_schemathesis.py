"""Property-based testing of the JSON API: schemathesis against the live OpenAPI document of
`python -m app serve`, with a token, a bounded number of examples per operation.

Every response must conform to the schema (status, content type, headers, body), no 5xx, a 405
names what is allowed, schema-invalid input is refused. Not checked: that every schema-valid
request succeeds (`positive_data_acceptance`): ids that exist, a contest's window order and a
cursor's contents are rules a JSON schema cannot state (the schema says what it can; the rest
is a documented 404 or 422). The token's own revocation is left out: it would end the run's
authentication (tests/test_real_server.py covers it).
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.support import ORG, app_server, running, server_env, set_up

pytestmark = [pytest.mark.xdist_group("faults_schemathesis"), pytest.mark.slow]
MAX_EXAMPLES = 5
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = f"""
[parameters]
org = "{ORG}"

[generation]
max-examples = {MAX_EXAMPLES}
"""


def test_the_api_conforms_to_its_schema_under_generated_input(tmp_path):
    url = f"sqlite:///{tmp_path / 'tod.db'}"
    d = set_up(url)
    server = app_server(server_env(url, tmp_path), tmp_path / "log")
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    with running(server):
        done = subprocess.run(
            [
                str(SCHEMATHESIS),
                "--config-file",
                str(config),
                "run",
                f"{server.base_url}/api/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {d.tokens[d.admin_id]}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--exclude-path-regex",
                r"/me/tokens/\{token_id\}$",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--workers",
                "1",
                "--seed",
                "20261204",
                "--no-color",
            ],
            cwd=tmp_path,  # its cache folder lands there, not in the checkout
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    report = done.stdout[-20000:] + done.stderr[-3000:]
    assert done.returncode == 0, report
    assert "Tested: " in done.stdout and "failures" not in done.stdout.split("SUMMARY")[-1]
    assert "Authentication failed" not in done.stdout, report
    log = server.log()
    assert "Traceback" not in log and '"status": 5' not in log, log[-3000:]
