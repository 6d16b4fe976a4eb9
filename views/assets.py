"""Static files under fingerprinted names: cached for a year, sent compressed.

A page links `css/app.<hash>.css`; the hash changes whenever the file does, so a browser keeps
each version for good and never asks again on navigation. The files are few and small (our CSS
and JS, htmx and Pico copied in by scripts/setup), so they are hashed and gzipped once, when the
app starts, and served from memory. A name without its hash is still served, the usual way.
"""

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flask import Flask, Response, request

IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESSIBLE = {".css", ".js", ".svg", ".json", ".map", ".txt"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    mimetype: str
    etag: str


def init_app(app: Flask) -> None:
    """Link every static file by its fingerprinted name and serve those names for a year."""
    assets, hashed_names = scan(Path(app.static_folder))
    plain_static = app.view_functions["static"]

    @app.url_defaults
    def fingerprint(endpoint: str, values: dict) -> None:
        if endpoint == "static" and values.get("filename") in hashed_names:
            values["filename"] = hashed_names[values["filename"]]

    def static(filename: str) -> Response:
        asset = assets.get(filename)
        return plain_static(filename=filename) if asset is None else serve(asset)

    app.view_functions["static"] = static


def scan(folder: Path) -> tuple[dict[str, Asset], dict[str, str]]:
    """(fingerprinted name -> asset, plain name -> fingerprinted name) for every file in `folder`."""
    assets, hashed_names = {}, {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:16]
        hashed = fingerprinted(name, digest)
        hashed_names[name] = hashed
        assets[hashed] = Asset(
            body=body,
            gzipped=_compressed(path.suffix, body),
            mimetype=mimetypes.guess_type(name)[0] or "application/octet-stream",
            etag=digest,
        )
    return assets, hashed_names


def fingerprinted(name: str, digest: str) -> str:
    """`css/app.css` -> `css/app.<digest>.css` (the hash goes before the last suffix)."""
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


def _compressed(suffix: str, body: bytes) -> bytes | None:
    if suffix not in COMPRESSIBLE:
        return None
    # mtime=0: the same file always gives the same bytes (and the same length) on every worker.
    return gzip.compress(body, compresslevel=9, mtime=0)


def serve(asset: Asset) -> Response:
    """The file, gzipped when the browser takes it, with a year-long immutable cache."""
    use_gzip = asset.gzipped is not None and request.accept_encodings.quality("gzip") > 0
    response = Response(asset.gzipped if use_gzip else asset.body, mimetype=asset.mimetype)
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    if asset.gzipped is not None:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = IMMUTABLE
    response.set_etag(asset.etag)
    return response.make_conditional(request)
