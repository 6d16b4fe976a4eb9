"""Static files: fingerprinted names, a year-long immutable cache, gzip, and a light first view."""

import gzip
import re
from pathlib import Path

from flask import Flask, url_for

from views import assets

FINGERPRINTED = re.compile(r"^/static/.+\.[0-9a-f]{16}\.(css|js)$")


def linked_assets(client) -> list[str]:
    page = client.get("/login").get_data(as_text=True)
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page)


def test_pages_link_every_static_file_by_a_name_that_carries_its_hash(client):
    links = linked_assets(client)
    assert len(links) >= 4, links
    assert all(FINGERPRINTED.match(link) for link in links), links


def test_a_fingerprinted_file_is_cached_for_a_year_and_is_the_file_on_disk(app, client):
    for link in linked_assets(client):
        response = client.get(link)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        plain = re.sub(r"\.[0-9a-f]{16}(\.\w+)$", r"\1", link.removeprefix("/static/"))
        assert response.data == (Path(app.static_folder) / plain).read_bytes()


def test_compressed_for_browsers_that_take_gzip_and_revalidated_by_etag(app, client):
    sent = 0
    for link in linked_assets(client):
        response = client.get(link, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert response.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in response.vary
        plain = client.get(link, headers={"Accept-Encoding": "identity"}).data
        assert gzip.decompress(response.data) == plain
        assert client.get(link, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
        sent += len(response.data)
    assert sent < 50_000, f"a first view transfers {sent} bytes of static files"


def test_a_plain_name_is_still_served_but_revalidated(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200 and "immutable" not in response.headers.get("Cache-Control", "")
    assert client.get("/static/css/app.0123456789abcdef.css").status_code == 404


def test_the_name_changes_with_the_content(tmp_path):
    def name_after(text: str) -> str:
        (tmp_path / "site.css").write_text(text)
        app = Flask("fingerprint_check", static_folder=str(tmp_path), static_url_path="/static")
        assets.init_app(app)
        with app.test_request_context():
            return url_for("static", filename="site.css")

    first, again, changed = name_after("a{}"), name_after("a{}"), name_after("b{}")
    assert first == again != changed
    assert FINGERPRINTED.match(first) and FINGERPRINTED.match(changed)
