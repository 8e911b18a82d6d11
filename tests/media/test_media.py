"""Photos through HTTP: upload with a recognition or the API, serving with access checks, limits,
and files that live and die with their rows, on a local folder and on a real S3 server."""

import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.media import service as media
from app.media.models import MediaImage
from app.media.storage import LocalStorage, get_storage, storage_for
from app.recognition.models import Recognition
from tests.helpers import (
    BAD_FILES,
    RED,
    World,
    close,
    csrf_token,
    give,
    heic,
    login,
    make_org,
    make_person,
    make_value,
    phone_jpeg,
    post_form,
    upright_marker,
)
from tests.pg import _free_port

# --- storage backends ------------------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def store(request, settings_env, tmp_path):
    """The app's media storage for this test: a temp folder, or a bucket on the moto server."""
    if request.param == "local":
        url = f"file:{tmp_path / 'media'}"
    else:
        url = request.getfixturevalue("s3_url")
    settings_env(media_url=url)
    yield get_storage()
    storage_for.cache_clear()


@pytest.fixture
def local_store(settings_env, tmp_path):
    settings_env(media_url=f"file:{tmp_path / 'media'}")
    yield get_storage()
    storage_for.cache_clear()


def test_s3_round_trip(s3_url):
    storage = storage_for(s3_url)
    storage.put("o1/abc.webp", b"RIFF....WEBP", "image/webp")
    assert storage.exists("o1/abc.webp") and storage.get("o1/abc.webp") == b"RIFF....WEBP"
    head = storage.client.head_object(Bucket=storage.bucket, Key="photos/o1/abc.webp")
    assert head["ContentType"] == "image/webp"  # under the URL's prefix, path-style
    assert list(storage.keys()) == ["o1/abc.webp"]
    storage.delete("o1/abc.webp")
    storage.delete("o1/abc.webp")  # deleting twice is fine
    assert not storage.exists("o1/abc.webp") and list(storage.keys()) == []


def test_local_storage_refuses_keys_that_leave_its_folder(tmp_path):
    storage = LocalStorage(tmp_path)
    for key in ["../x", "o1/../../x", "/etc/passwd", "o1/.hidden", "O1/A.webp", ""]:
        with pytest.raises(ValueError):
            storage.put(key, b"x", "image/webp")
    storage.put("o1/a.webp", b"x", "image/webp")
    assert [p.name for p in tmp_path.rglob("*")] == ["o1", "a.webp"]  # no temp file left


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def world(db):
    org = make_org(db, name="Åsnes kommune")
    value = make_value(db, org, name="Samarbeid")
    giver = make_person(db, org, name="Kari Nordmann")
    recipient = make_person(db, org, name="Åse Løkken")
    other = make_person(db, org, name="Ola Utenfor")
    return World(org=org, value=value, giver=giver, recipient=recipient, other=other)


def _count(db, model) -> int:
    return db.exec(select(func.count()).select_from(model)).one()


def _give_with_photo(
    client, org, value, recipient, photo, *, text="Takk for at du tok vakta!", **extra
):
    page = client.get(f"/{org.slug}/give")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    data = {
        "csrf_token": csrf_token(client),
        "recipients": [str(recipient.id)],
        "values": [str(value.id)],
        "text": text,
        "idempotency_key": key,
        **extra,
    }
    files = None
    if photo == b"":  # what a browser sends when no photo was chosen
        files = {"photo": ("", b"", "application/octet-stream")}
    elif photo is not None:
        files = {"photo": ("IMG_0001.HEIC", photo, "image/heic")}
    return client.post(f"/{org.slug}/give", data=data, files=files, follow_redirects=False)


def _upload(client, org, data, name="photo.jpg", content_type="image/jpeg", **form):
    return client.post(
        f"/api/v1/orgs/{org.slug}/media",
        data={"csrf_token": csrf_token(client), **form},
        files={"file": (name, data, content_type)},
    )


# --- the give form with a photo ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["jpeg", "heic"])
def test_give_with_a_photo_end_to_end(client, db, world, store, kind):
    org, value, giver, recipient = world.org, world.value, world.giver, world.recipient
    login(client, db, giver)
    photo = phone_jpeg(orientation=6) if kind == "jpeg" else heic(upright_marker())

    response = _give_with_photo(client, org, value, recipient, photo, photo_alt="Kaffe og kake")

    assert response.status_code == 303, response.text
    rec = db.exec(select(Recognition)).one()
    image = rec.photo
    assert image is not None and image.owner_id == giver.id and image.alt == "Kaffe og kake"
    assert sorted(store.keys()) == sorted(media.image_keys(image))
    assert len(image.variants) == 4  # 320 and 400 px, WebP and JPEG

    # The recipient sees it in the card: <picture> with WebP and JPEG srcsets, box reserved.
    login(client, db, recipient)
    page = client.get(f"/{org.slug}/r/{rec.id}").text
    base = f"/{org.slug}/media/{image.id}"
    assert f'srcset="{base}/320.webp 320w, {base}/{image.width}.webp {image.width}w"' in page
    assert f'{base}/320.jpg 320w, {base}/{image.width}.jpg {image.width}w"' in page
    assert 'type="image/webp"' in page and "sizes=" in page
    assert 'alt="Kaffe og kake"' in page and 'loading="lazy"' in page
    assert f'width="{image.width}" height="{image.height}"' in page
    served = client.get(f"{base}/320.jpg")
    assert served.status_code == 200
    im = decoded_bytes(served.content)
    assert im.format == "JPEG" and im.size[0] == 320
    if kind == "jpeg":  # orientation 6 was applied: landscape with the red corner top-left
        assert im.size[0] > im.size[1] and close(im.convert("RGB").getpixel((20, 20)), RED)
    assert b"GPS" not in served.content and b"Exif" not in served.content


def decoded_bytes(data: bytes):
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_default_alt_names_the_giver(client, db, world, local_store):
    org, value, giver, recipient = world.org, world.value, world.giver, world.recipient
    login(client, db, giver)
    assert _give_with_photo(client, org, value, recipient, phone_jpeg()).status_code == 303
    page = client.get(f"/{org.slug}/", headers={"Accept-Language": "en"}).text
    assert 'alt="Photo from Kari Nordmann\'s recognition"' in page


def test_give_without_a_photo_works_as_before(client, db, world, local_store):
    org, value, giver, recipient = world.org, world.value, world.giver, world.recipient
    login(client, db, giver)
    form = client.get(f"/{org.slug}/give").text
    assert 'enctype="multipart/form-data"' in form
    assert 'type="file"' in form and 'accept="image/*"' in form and 'capture="environment"' in form
    assert _give_with_photo(client, org, value, recipient, None).status_code == 303
    response = _give_with_photo(client, org, value, recipient, b"")
    assert response.status_code == 303
    assert _count(db, Recognition) == 2 and _count(db, MediaImage) == 0
    assert list(local_store.keys()) == []
    assert "<picture" not in client.get(f"/{org.slug}/").text


def _nonempty_bad_files() -> list[str]:
    # An empty file part means "no photo" on the form (it is tested as such elsewhere).
    return [n for n, (make, _code) in BAD_FILES.items() if (make() if callable(make) else make)]


@pytest.mark.parametrize("name", _nonempty_bad_files())
def test_bad_photo_leaves_no_file_and_no_row(client, db, world, store, name):
    org, value, giver, recipient = world.org, world.value, world.giver, world.recipient
    login(client, db, giver)
    make, _code = BAD_FILES[name]
    data = make() if callable(make) else make
    response = _give_with_photo(client, org, value, recipient, data)
    assert response.status_code == 422
    assert 'id="f-photo-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Takk for at du tok vakta!" in response.text  # the input is kept
    assert list(store.keys()) == []
    assert _count(db, MediaImage) == 0 and _count(db, Recognition) == 0


def test_good_photo_with_other_errors_is_rolled_back_with_its_files(client, db, world, store):
    org, value, giver, recipient = world.org, world.value, world.giver, world.recipient
    login(client, db, giver)
    client.headers["Accept-Language"] = "en"
    response = _give_with_photo(client, org, value, recipient, phone_jpeg(), text="kort")
    assert response.status_code == 422
    assert "Choose the photo again" in response.text
    assert list(store.keys()) == []
    assert _count(db, MediaImage) == 0 and _count(db, Recognition) == 0


def test_double_tap_with_a_photo_makes_one_recognition_and_one_image(client, db, world, store):
    org, value, giver, recipient = world.org, world.value, world.giver, world.recipient
    login(client, db, giver)
    page = client.get(f"/{org.slug}/give")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text).group(1)
    data = {
        "csrf_token": csrf_token(client),
        "recipients": [str(recipient.id)],
        "values": [str(value.id)],
        "text": "Takk for at du tok vakta!",
        "idempotency_key": key,
    }
    for _ in range(2):
        r = client.post(
            f"/{org.slug}/give",
            data=data,
            files={"photo": ("a.jpg", phone_jpeg(), "image/jpeg")},
            follow_redirects=False,
        )
        assert r.status_code == 303
    assert _count(db, Recognition) == 1 and _count(db, MediaImage) == 1
    assert len(list(store.keys())) == 4


# --- request size -------------------------------------------------------------------------------


def test_oversized_body_is_refused_with_413(client, db, world, local_store, settings_env):
    settings_env(max_upload_mb=1)
    org, value, giver, recipient = world.org, world.value, world.giver, world.recipient
    login(client, db, giver)
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (1024 * 1024 + 10)
    response = _give_with_photo(client, org, value, recipient, big)
    assert response.status_code == 413
    api = _upload(client, org, big)
    assert api.status_code == 413 and api.json()["error"]["code"] == "too_large"
    assert list(local_store.keys()) == [] and _count(db, MediaImage) == 0
    assert _count(db, Recognition) == 0


def test_chunked_body_is_counted_as_it_streams(client, db, world, local_store, settings_env):
    settings_env(max_upload_mb=1)
    org, giver = world.org, world.giver
    login(client, db, giver)
    token = csrf_token(client)
    sent = 0
    boundary = "tod"

    def body():
        nonlocal sent
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        yield head
        for _ in range(64):  # 8 MB, no Content-Length: transfer-encoding chunked
            sent += 128 * 1024
            yield b"\x00" * (128 * 1024)

    response = client.post(
        f"/api/v1/orgs/{org.slug}/media",
        content=body(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert _count(db, MediaImage) == 0 and list(local_store.keys()) == []


async def _drive(limit_mb, headers, chunks):
    """Run the middleware directly: how many chunks did the app pull before the 413?"""
    from starlette.exceptions import HTTPException

    from app.media.limits import BodyLimitMiddleware

    pulled = 0

    async def receive():
        nonlocal pulled
        pulled += 1
        return {
            "type": "http.request",
            "body": chunks[pulled - 1],
            "more_body": pulled < len(chunks),
        }

    async def inner(scope, receive, send):
        while (await receive()).get("more_body"):
            pass

    scope = {"type": "http", "method": "POST", "headers": headers}
    try:
        await BodyLimitMiddleware(inner)(scope, receive, None)
    except HTTPException as exc:
        return exc.status_code, pulled
    return 200, pulled


@pytest.mark.parametrize(
    "declared,expected_pulls",
    [
        (str(30 * 1024 * 1024), 0),  # the declared length alone refuses it: nothing read
        (str(1024), 9),  # a lying Content-Length: refused at the first chunk past 1 MB
        (None, 9),  # chunked
    ],
)
def test_body_limit_middleware(settings_env, declared, expected_pulls):
    import anyio

    settings_env(max_upload_mb=1)
    headers = [(b"content-type", b"multipart/form-data; boundary=x")]
    if declared:
        headers.append((b"content-length", declared.encode()))
    chunks = [b"\x00" * (128 * 1024)] * 30

    def run(*args):
        # Its own thread: the browser tests may keep an event loop running in this one.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(anyio.run, _drive, *args).result()

    status, pulled = run(1, headers, chunks)
    assert (status, pulled) == (413, expected_pulls)
    small = [b"\x00" * 1000] * 3
    assert run(1, headers[:1], small) == (200, 3)


def test_413_before_the_body_is_sent_on_a_real_server(app, db, world, settings_env):
    """uvicorn on loopback: a client declaring 30 MB gets 413 after sending 64 kB."""
    import uvicorn

    settings_env(max_upload_mb=1)
    org = world.org
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                (
                    f"POST /api/v1/orgs/{org.slug}/media HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    "Authorization: Bearer nope\r\n"
                    "Content-Type: multipart/form-data; boundary=x\r\n"
                    f"Content-Length: {30 * 1024 * 1024}\r\n\r\n"
                ).encode()
                + b"\x00" * 65536
            )
            reply = sock.recv(4096).decode("latin-1")
        assert reply.startswith("HTTP/1.1 413"), reply[:200]
    finally:
        server.should_exit = True
        thread.join(10)


# --- the API -------------------------------------------------------------------------------------


def test_api_upload_and_attach_to_a_recognition(client, db, world, store):
    org, value, giver, recipient, other = (
        world.org,
        world.value,
        world.giver,
        world.recipient,
        world.other,
    )
    login(client, db, giver)
    response = _upload(client, org, phone_jpeg(), alt="Vaktrommet")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "width", "height", "alt", "variants"}
    assert (body["width"], body["height"], body["alt"]) == (400, 300, "Vaktrommet")
    assert [(v["width"], v["format"]) for v in body["variants"]] == [
        (320, "jpg"),
        (320, "webp"),
        (400, "jpg"),
        (400, "webp"),
    ]
    url = body["variants"][1]["url"]
    assert url == f"/{org.slug}/media/{body['id']}/320.webp"
    assert client.get(url).headers["content-type"] == "image/webp"  # the owner sees it
    login(client, db, other)
    assert client.get(url).status_code == 404  # not attached anywhere: only the owner
    # Another person cannot attach it.
    given = client.post(
        f"/api/v1/orgs/{org.slug}/recognitions",
        json={
            "recipients": [recipient.id],
            "values": [value.id],
            "text": "Takk for hjelpen i dag!",
            "photo_id": body["id"],
        },
        headers={"X-CSRF-Token": csrf_token(client)},
    )
    assert given.status_code == 422 and given.json()["error"]["fields"]["photo_id"]
    login(client, db, giver)
    given = client.post(
        f"/api/v1/orgs/{org.slug}/recognitions",
        json={
            "recipients": [recipient.id],
            "values": [value.id],
            "text": "Takk for hjelpen i dag!",
            "photo_id": body["id"],
        },
        headers={"X-CSRF-Token": csrf_token(client)},
    )
    assert given.status_code == 201, given.text
    assert given.json()["photo"]["id"] == body["id"]
    login(client, db, other)
    assert client.get(url).status_code == 200  # public recognition: every colleague sees it


@pytest.mark.parametrize(
    "name,status",
    [
        ("html renamed to .jpg", 415),
        ("svg", 415),
        ("pdf", 415),
        ("gif", 415),
        ("truncated jpeg", 422),
        ("decompression bomb (20 000 x 20 000)", 422),
        ("header claiming 50 000 x 50 000", 422),
    ],
)
def test_api_refuses_bad_files_with_json(client, db, world, store, name, status):
    org = world.org
    login(client, db, world.giver)
    make, code = BAD_FILES[name]
    data = make() if callable(make) else make
    response = _upload(client, org, data)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["fields"]["photo"]["code"] == code
    assert list(store.keys()) == [] and _count(db, MediaImage) == 0


def test_api_upload_needs_csrf_or_a_token(client, db, world, local_store):
    org = world.org
    login(client, db, world.giver)
    client.get("/login")
    response = client.post(
        f"/api/v1/orgs/{org.slug}/media", files={"file": ("a.jpg", phone_jpeg(), "image/jpeg")}
    )
    assert response.status_code == 403
    assert list(local_store.keys()) == []


# --- serving ------------------------------------------------------------------------------------


def _photo_rec(db, world, storage, **kw):
    org, value, giver, recipient = world.org, world.value, world.giver, world.recipient
    image = media.save_upload(db, org, giver, phone_jpeg(), storage=storage)
    rec = give(db, giver, [recipient], [value], photo=image, **kw)
    db.commit()
    return image, rec


def test_serving_headers_and_304(client, db, world, local_store):
    image, _rec = _photo_rec(db, world, local_store)
    org = world.org
    login(client, db, world.recipient)
    url = f"/{org.slug}/media/{image.id}/400.webp"
    response = client.get(url)
    assert response.status_code == 200
    h = response.headers
    assert h["content-type"] == "image/webp"
    assert h["x-content-type-options"] == "nosniff"
    assert h["cache-control"] == "private, max-age=31536000, immutable"
    assert h["content-security-policy"] == "default-src 'none'"
    assert h["content-disposition"].startswith("inline")
    variant = next(v for v in image.variants if v["width"] == 400 and v["format"] == "webp")
    assert h["etag"] == '"' + variant["key"].split("/")[-1].removesuffix(".webp") + '"'
    assert response.content == local_store.get(variant["key"])
    again = client.get(url, headers={"If-None-Match": h["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    for bad in ["401.webp", "400.png", "400.webp.html", "..%2F..%2Fx", "0400.webp"]:
        assert client.get(f"/{org.slug}/media/{image.id}/{bad}").status_code == 404, bad


@pytest.mark.parametrize(
    "who,private,expected",
    [
        ("giver", True, 200),
        ("recipient", True, 200),
        ("other", True, 404),
        ("other", False, 200),
        ("other org", False, 404),
        ("nobody", False, 303),
    ],
)
def test_who_may_see_a_photo(client, db, world, local_store, who, private, expected):
    org, giver, recipient, other = world.org, world.giver, world.recipient, world.other
    image, _rec = _photo_rec(db, world, local_store, visibility="private" if private else "org")
    url = f"/{org.slug}/media/{image.id}/320.jpg"
    if who == "other org":
        outsider = make_person(db, make_org(db))
        login(client, db, outsider)
        assert client.get(f"/{outsider.org.slug}/media/{image.id}/320.jpg").status_code == 404
    elif who != "nobody":
        login(client, db, {"giver": giver, "recipient": recipient, "other": other}[who])
    response = client.get(url, follow_redirects=False)
    assert response.status_code == expected
    if expected == 404:
        assert response.headers["content-type"].startswith("text/html")


def test_contest_hook_decides_for_contest_photos(client, db, world, local_store, monkeypatch):
    from app.contests import scope as contests

    org, giver, other = world.org, world.giver, world.other
    image = media.save_upload(db, org, giver, phone_jpeg(), storage=local_store)
    db.commit()
    login(client, db, other)
    url = f"/{org.slug}/media/{image.id}/320.jpg"
    asked = []

    def visible(session, viewer, image_id):
        asked.append((viewer.id, image_id))
        return True

    monkeypatch.setattr(contests, "entry_image_visible", visible)
    assert client.get(url).status_code == 200 and asked == [(other.id, image.id)]
    monkeypatch.setattr(contests, "entry_image_visible", lambda *a: None)
    assert client.get(url).status_code == 404


# --- files live and die with rows ------------------------------------------------------------


def test_rollback_deletes_written_files(db, world, store):
    org, giver = world.org, world.giver
    image = media.save_upload(db, org, giver, phone_jpeg())
    assert len(list(store.keys())) == 4 and image.id
    db.rollback()
    assert list(store.keys()) == []


def test_savepoint_rolled_back_then_commit_deletes_its_files(db, world, store):
    org, giver = world.org, world.giver
    nested = db.begin_nested()
    media.save_upload(db, org, giver, phone_jpeg())
    nested.rollback()
    kept = media.save_upload(db, org, giver, heic(upright_marker()))
    db.commit()
    assert sorted(store.keys()) == sorted(media.image_keys(kept))


def test_delete_image_removes_every_file_after_commit_only(db, world, settings_env, tmp_path):
    settings_env(media_url=f"file:{tmp_path / 'm'}")
    org, giver = world.org, world.giver
    org.keep_photo_originals = True
    db.add(org)
    image = media.save_upload(db, org, giver, phone_jpeg())
    db.commit()
    storage = get_storage()
    assert image.original_key and storage.get(image.original_key) == phone_jpeg()
    assert len(list(storage.keys())) == 5
    media.delete_image(db, image)
    db.flush()
    assert len(list(storage.keys())) == 5  # not yet: the deletion may still be rolled back
    db.rollback()
    assert len(list(storage.keys())) == 5
    image = db.get(MediaImage, image.id)
    media.delete_image(db, image)
    db.commit()
    assert list(storage.keys()) == []
    storage_for.cache_clear()


def test_erasing_a_person_deletes_their_photos(db, world, store):
    org, giver, recipient = world.org, world.giver, world.recipient
    image, rec = _photo_rec(db, world, store)
    other_image = media.save_upload(db, org, recipient, heic(upright_marker()))
    db.commit()
    assert media.delete_images_of(db, giver) == 1
    db.commit()
    assert sorted(store.keys()) == sorted(media.image_keys(other_image))
    db.refresh(rec)
    assert rec.photo_id is None and db.get(MediaImage, image.id) is None


def test_deleting_a_recognition_deletes_its_photo(client, db, world, local_store):
    org, giver = world.org, world.giver
    _image, rec = _photo_rec(db, world, local_store)
    login(client, db, giver)
    response = client.post(
        f"/{org.slug}/r/{rec.id}/delete",
        data={"csrf_token": csrf_token(client), "confirm": "yes"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert list(local_store.keys()) == [] and _count(db, MediaImage) == 0


def test_same_photo_twice_is_one_image_and_someone_elses_is_refused(db, world, local_store):
    org, giver, recipient = world.org, world.giver, world.recipient
    first = media.save_upload(db, org, giver, phone_jpeg())
    assert media.save_upload(db, org, giver, phone_jpeg()).id == first.id
    with pytest.raises(media.Invalid) as info:
        media.save_upload(db, org, recipient, phone_jpeg())
    assert info.value.errors["photo"].code == "duplicate"
    # Another organisation's identical photo is its own image, under its own keys.
    outsider = make_person(db, make_org(db))
    theirs = media.save_upload(db, outsider.org, outsider, phone_jpeg())
    assert theirs.id != first.id
    assert not set(media.image_keys(theirs)) & set(media.image_keys(first))


def test_the_uploader_may_use_the_same_team_photo_again(client, db, world, local_store):
    """Kari shares the team photo with Åse, and later with Ola: one image, two recognitions."""
    org, value, giver = world.org, world.value, world.giver
    login(client, db, giver)
    first = _give_with_photo(client, org, value, world.recipient, phone_jpeg())
    assert first.status_code == 303, first.text[:500]
    again = _give_with_photo(
        client, org, value, world.other, phone_jpeg(), text="Takk for dugnaden i helga!"
    )
    assert again.status_code == 303, again.text[:500]
    recs = db.exec(select(Recognition).order_by(Recognition.id)).all()
    assert len(recs) == 2 and recs[0].photo_id == recs[1].photo_id is not None
    assert _count(db, MediaImage) == 1
    # Deleting one keeps the photo for the other; the uploader still owns it (erasure).
    login(client, db, giver)
    post_form(client, f"/{org.slug}/r/{recs[0].id}/delete", {"confirm": "yes"})
    image = db.exec(select(MediaImage)).one()
    assert image.owner_id == giver.id and image.variants


def test_a_photo_deleted_by_competition_retention_is_not_shared_again(db, world, local_store):
    org, giver = world.org, world.giver
    image = media.save_upload(db, org, giver, phone_jpeg())
    media.purge_files(db, image)
    db.commit()
    with pytest.raises(media.Invalid) as info:
        media.save_upload(db, org, giver, phone_jpeg())
    assert info.value.errors["photo"].code == "removed"
    assert list(local_store.keys()) == []
