"""Time and memory of one person's export ZIP as their photos grow, and of their erasure.

    .venv/bin/python bench/bench_export.py --photos 10,40

A throwaway SQLite database and media folder; each photo a different 12-megapixel-class JPEG
processed by the app's own pipeline (not timed). Memory is Python's own peak (tracemalloc)
while the ZIP is built and streamed, against the size of the ZIP: the spooled file keeps the
peak near one photo, whatever the number of photos.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _photo(seed: int) -> bytes:
    from PIL import Image

    im = Image.effect_noise((2000, 1500), 40 + seed % 50).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", default="10,40")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tod-bench-export-"))
    os.environ.update(
        {
            "TOD_ENV": "dev",
            "TOD_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "TOD_MEDIA_URL": f"file:{tmp / 'media'}",
        }
    )
    from sqlmodel import Session

    from app.db import get_engine
    from app.media import service as media
    from app.migrate import upgrade
    from app.orgs.models import Organisation, Person
    from app.privacy import erasure, export

    upgrade()
    print("| photos | ZIP size | build + stream | Python peak memory | erasure |")
    print("|---:|---:|---:|---:|---:|")
    for n in [int(x) for x in args.photos.split(",")]:
        with Session(get_engine()) as db:
            org = Organisation(slug=f"bench{n}", name="Bench")
            db.add(org)
            db.flush()
            person = Person(org_id=org.id, email=f"p{n}@bench.example", name="Bench Person")
            db.add(person)
            db.flush()
            for i in range(n):
                media.save_upload(db, org, person, _photo(n * 1000 + i))
            db.commit()
            tracemalloc.start()
            start = time.perf_counter()
            size = sum(len(chunk) for chunk in export.export_stream(db, person))
            took = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            start = time.perf_counter()
            erasure.erase_person(db, person, actor=None)
            db.commit()
            erase_took = time.perf_counter() - start
        print(
            f"| {n} | {size / 1e6:.1f} MB | {took * 1000:.0f} ms | {peak / 1e6:.1f} MB "
            f"| {erase_took * 1000:.0f} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
