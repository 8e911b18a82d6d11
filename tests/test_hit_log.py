"""The widget's memo hits are logged as counts, at most one line per interval."""

import json
import logging

from app.middleware import HitLog


def test_memo_hits_are_counted_and_logged_in_batches(caplog):
    caplog.set_level(logging.INFO, logger="tod.request")
    hits = HitLog(every_seconds=3600)
    for status in [200] * 5 + [304] * 2:
        hits.count(status)
    assert not [r for r in caplog.records if r.name == "tod.request"]  # nothing yet
    hits.flush()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tod.request"]
    assert len(lines) == 1 and lines[0]["widget_memo_hits"] == {"200": 5, "304": 2}
    hits.flush()  # nothing new: no empty line
    assert len([r for r in caplog.records if r.name == "tod.request"]) == 1


def test_a_batch_is_written_once_the_interval_has_passed(caplog):
    caplog.set_level(logging.INFO, logger="tod.request")
    hits = HitLog(every_seconds=0)
    hits.count(200)
    hits.count(200)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "tod.request"]
    assert [line["widget_memo_hits"] for line in lines] == [{"200": 1}, {"200": 1}]
