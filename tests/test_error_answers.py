"""The answers for requests the API cannot take: 405 with every allowed method, unreadable bodies
as the documented 422 in the caller's language, and which database errors are a 503."""

import sqlite3

import psycopg
from sqlalchemy.exc import OperationalError, ProgrammingError

from app.auth.service import create_api_token
from app.db import unavailable
from tests.helpers import make_org, make_person

NB = {"Accept-Language": "nb"}


def _auth(db, org):
    return {"Authorization": f"Bearer {create_api_token(db, make_person(db, org))[1]}", **NB}


def test_405_lists_every_method_of_the_path(client, db):
    org = make_org(db)
    response = client.delete(f"/api/v1/orgs/{org.slug}/contests", headers=_auth(db, org))
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.json()["error"]["message"] == "Det går ikke an å gjøre det her."


def test_unreadable_bodies_are_a_422_that_says_what_to_send(client, db):
    org = make_org(db)
    auth = _auth(db, org)
    broken_json = client.post(
        f"/api/v1/orgs/{org.slug}/recognitions",
        content=b'{"recipients": [',
        headers={**auth, "Content-Type": "application/json"},
    )
    broken_multipart = client.post(
        f"/api/v1/orgs/{org.slug}/media",
        content=b"--x\r\n[['-script.pyw']]--x--\r\n",
        headers={**auth, "Content-Type": "multipart/form-data; boundary=x"},
    )
    for response in (broken_json, broken_multipart):
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert error["fields"]["request"]["code"] == "malformed"
        assert error["fields"]["request"]["message"].startswith("Innholdet i forespørselen")


def _wrapped(exc: Exception, cls=OperationalError):
    return cls("SELECT 1", {}, exc)


def test_which_database_errors_mean_try_again():
    assert unavailable(_wrapped(sqlite3.OperationalError("database is locked")))
    assert unavailable(_wrapped(sqlite3.OperationalError("database or disk is full")))
    assert unavailable(_wrapped(psycopg.OperationalError("connection refused")))
    assert unavailable(_wrapped(psycopg.errors.AdminShutdown("terminating connection")))
    assert not unavailable(_wrapped(sqlite3.OperationalError("no such table: person")))
    assert not unavailable(_wrapped(psycopg.errors.SyntaxError("bad"), ProgrammingError))
    assert not unavailable(RuntimeError("database is locked"))
