"""Static files: versioned URLs, cached for a year; a changed file gets a new URL."""
from __future__ import annotations

import re


def test_static_urls_carry_their_digest_and_are_cached_as_immutable(client, app, tmp_path):
    html = client.get("/login").get_data(as_text=True)
    url = re.search(r'href="(/static/app\.css\?v=[0-9a-f]{10})"', html).group(1)
    r = client.get(url)
    assert r.status_code == 200 and "max-age=31536000" in r.headers["Cache-Control"]
    assert "immutable" in r.headers["Cache-Control"]
    assert "max-age" not in (client.get("/static/app.css").headers.get("Cache-Control") or "")  # no digest, no promise
    wrong = client.get("/static/app.css?v=0000000000")  # not this file's digest (an old worker, a guess)
    assert wrong.status_code == 200 and "immutable" not in (wrong.headers.get("Cache-Control") or "")

    from app.templating import static_version

    (tmp_path / "x.css").write_text("a{}")
    first = static_version(str(tmp_path), "x.css")
    (tmp_path / "x.css").write_text("b{}")
    import os
    os.utime(tmp_path / "x.css", (1, 1))  # a different mtime, as an edit gives
    assert static_version(str(tmp_path), "x.css") != first
    assert static_version(str(tmp_path), "missing.css") is None
