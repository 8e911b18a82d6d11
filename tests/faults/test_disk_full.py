"""The disk full while a photo is written (the media folder on a small tmpfs): a clear error in
the user's language, no image row without its files, no file without its row, no recognition
that lost its photo; once there is room again the same upload works."""

import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlmodel import Session, select

from app.media.models import MediaImage
from app.media.service import image_keys
from tests.faults.support import (
    ORG,
    api,
    app_server,
    engine_for,
    running,
    server_env,
    set_up,
    texts_in_db,
)

pytestmark = [pytest.mark.xdist_group("faults_disk_full"), pytest.mark.slow]
SIZE_KB = 16384
FREE_KB = 48  # room for a variant or two of the photo below, not for all of them


@pytest.fixture
def media(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of SIZE_KB for the media folder (we run as root in the test machines)."""
    mount = tmp_path / "media"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_KB}k,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"cannot mount a tmpfs (root needed): {done.stderr}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def noisy_jpeg(seed: int) -> bytes:
    """A photo whose variants do not compress away (noise), about 1600x1200."""
    im = Image.effect_noise((1600, 1200), 80 + seed).convert("RGB")
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


def fill(mount: Path, leave_kb: int) -> Path:
    filler = mount / "filler"
    stat = __import__("os").statvfs(mount)
    free = stat.f_bavail * stat.f_frsize
    filler.write_bytes(b"\0" * max(0, free - leave_kb * 1024))
    return filler


def media_files(mount: Path) -> set[str]:
    return {p.relative_to(mount).as_posix() for p in mount.rglob("*") if p.is_file()} - {"filler"}


def rows(url: str) -> list[MediaImage]:
    engine = engine_for(url)
    try:
        with Session(engine) as s:
            return list(s.exec(select(MediaImage)).all())
    finally:
        engine.dispose()


def test_a_full_disk_while_a_photo_is_written_leaves_nothing_half_written(tmp_path, media):
    url = f"sqlite:///{tmp_path / 'tod.db'}"
    d = set_up(url)
    env = server_env(url, tmp_path, TOD_MEDIA_URL=f"file:{media}")
    server = app_server(env, tmp_path / "log")
    photo = noisy_jpeg(1)
    giver = d.givers[0]
    with running(server):
        filler = fill(media, FREE_KB)
        with api(server.base_url, d.tokens[giver]) as c:
            refused = c.post("/media", files={"file": ("foto.jpg", photo, "image/jpeg")})
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "60"
        error = refused.json()["error"]
        assert error["code"] == "storage_full"
        assert error["message"].startswith("Det er ikke plass til å lagre bilder nå")
        assert rows(url) == [] and media_files(media) == set()

        # The give form with a photo: an error page in the user's language, no recognition.
        browser = httpx.Client(
            base_url=server.base_url,
            cookies={"tod_session": d.sessions[d.givers[1]]},
            # A browser sends its page's Origin with a form; the app refuses others.
            headers={"Accept-Language": "nn", "Origin": server.base_url},
            timeout=30,
        )
        page = browser.get(f"/{ORG}/give")
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
        assert token and key
        form = {
            "csrf_token": token.group(1),
            "idempotency_key": key.group(1),
            "recipients": str(d.recipients[0]),
            "values": str(d.values[0]),
            "text": "Takk for at du rydda lageret i helga!",
        }
        files = {"photo": ("lager.jpg", noisy_jpeg(2), "image/jpeg")}
        full = browser.post(f"/{ORG}/give", data=form, files=files, follow_redirects=False)
        assert full.status_code == 503 and '<html lang="nn">' in full.text
        assert "Det er ikkje plass til å lagre bilete no" in full.text
        assert texts_in_db(url) == []
        assert rows(url) == [] and media_files(media) == set()
        assert not list(media.rglob(".tmp-*"))

        # Room again: the same upload and the same form work, rows and files match exactly.
        filler.unlink()
        with api(server.base_url, d.tokens[giver]) as c:
            assert (
                c.post("/media", files={"file": ("foto.jpg", photo, "image/jpeg")}).status_code
                == 201
            )
        files = {"photo": ("lager.jpg", noisy_jpeg(2), "image/jpeg")}
        done = browser.post(f"/{ORG}/give", data=form, files=files, follow_redirects=False)
        assert done.status_code == 303
        browser.close()
    images = rows(url)
    assert len(images) == 2
    assert media_files(media) == {k for image in images for k in image_keys(image)}
    assert texts_in_db(url) == ["Takk for at du rydda lageret i helga!"]
    log = server.log()
    assert "Traceback" not in log and '"status": 500' not in log, log[-3000:]
    assert log.count("media storage full") == 2
