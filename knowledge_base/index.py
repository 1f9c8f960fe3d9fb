"""Building and loading the on-disk FAISS index.

Layout of an index folder:
- `manifest.json`: embedder name, dimension, splitter version and one content hash per article,
  so a rebuild re-embeds only what changed and a mismatched index is refused.
- `passages.jsonl`: passage metadata, row i describes vector rows i and n + i.
- `vectors.npy`: 2n x dim float32; rows 0..n-1 embed the passages as written, rows n..2n-1 the
  accent-folded passages. Customers who type without diacritics are compared with the folded
  copy, which e5 matches far better than the original.
- `index.faiss`: an inner-product FAISS index over `vectors.npy`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from cskh.text import fold
from knowledge_base.embedders import Embedder
from knowledge_base.ingest import SPLITTER_VERSION, Passage, read_articles

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class IndexLoadError(Exception):
    """The index folder is missing or broken; the message says how to rebuild it."""


class IndexMismatchError(IndexLoadError):
    """The index was built with another embedder than the one configured."""


@dataclass(frozen=True)
class BuildReport:
    articles: int
    passages: int
    embedded_articles: int
    reused_articles: int
    removed_articles: int
    seconds: float


@dataclass
class IndexData:
    manifest: dict[str, Any]
    passages: list[Passage]
    vectors: np.ndarray  # (2n, dim)
    faiss_index: Any


def read_manifest(index_dir: Path) -> dict[str, Any]:
    path = index_dir / MANIFEST
    if not path.exists():
        raise IndexLoadError(
            f"{index_dir}: no search index here; build one with "
            f"`cskh kb build --source <articles> --index {index_dir}`"
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexLoadError(f"{path}: unreadable manifest ({exc}); rebuild the index") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexLoadError(
            f"{index_dir}: index format {manifest.get('format')!r}, this code reads "
            f"{FORMAT_VERSION}; rebuild it with `cskh kb build`"
        )
    return manifest


def check_compatible(manifest: dict[str, Any], embedder: Embedder, index_dir: Path) -> None:
    if manifest.get("embedder") != embedder.name or manifest.get("dim") != embedder.dim:
        raise IndexMismatchError(
            f"{index_dir}: the index was built with embedder {manifest.get('embedder')!r} "
            f"({manifest.get('dim')} dims) but the configured embedder is {embedder.name!r} "
            f"({embedder.dim} dims); vectors from different models cannot be compared. "
            f"Rebuild with `cskh kb build --index {index_dir}` or configure the same embedder."
        )


def load_index(index_dir: Path, embedder: Embedder) -> IndexData:
    manifest = read_manifest(index_dir)
    check_compatible(manifest, embedder, index_dir)
    try:
        with (index_dir / "passages.jsonl").open(encoding="utf-8") as fh:
            passages = [Passage(**json.loads(line)) for line in fh if line.strip()]
        vectors = np.load(index_dir / "vectors.npy")
        faiss_index = faiss.read_index(str(index_dir / "index.faiss"))
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        raise IndexLoadError(f"{index_dir}: broken index files ({exc}); rebuild the index") from exc
    if vectors.shape != (2 * len(passages), embedder.dim) or faiss_index.ntotal != len(vectors):
        raise IndexLoadError(f"{index_dir}: index files disagree with each other; rebuild it")
    return IndexData(manifest, passages, vectors, faiss_index)


def _previous_vectors(index_dir: Path, embedder: Embedder) -> dict[str, tuple[str, np.ndarray]]:
    """article id -> (content hash, its 2k x dim vectors) from an index that can be reused."""
    try:
        data = load_index(index_dir, embedder)
    except IndexLoadError:
        return {}
    n = len(data.passages)
    rows: dict[str, list[int]] = {}
    for i, passage in enumerate(data.passages):
        rows.setdefault(passage.article_id, []).append(i)
    out = {}
    for article_id, info in data.manifest.get("articles", {}).items():
        idx = rows.get(article_id, [])
        both = data.vectors[idx + [n + i for i in idx]]
        out[article_id] = (info["hash"], both)
    return out


def build_index(
    source: Path,
    index_dir: Path,
    embedder: Embedder,
    progress: Callable[[int, int], Callable[[int], None]] | None = None,
) -> BuildReport:
    """Build or update `index_dir` from the articles in `source`.

    `progress(total_texts, articles)` may return a callback advanced as texts are embedded.
    """
    started = time.perf_counter()
    articles = read_articles(source)
    previous = _previous_vectors(index_dir, embedder)
    old_manifest_articles = set(previous)

    to_embed: list[Passage] = []
    plan: list[tuple[str, list[Passage], np.ndarray | None]] = []
    for article in articles:
        passages = article.passages()
        cached = previous.get(article.article_id)
        if cached and cached[0] == article.content_hash and len(cached[1]) == 2 * len(passages):
            plan.append((article.article_id, passages, cached[1]))
        else:
            plan.append((article.article_id, passages, None))
            to_embed.extend(passages)

    texts = [p.embedding_text() for p in to_embed]
    texts += [fold(t) for t in texts]
    advance = progress(len(texts), sum(1 for _, _, v in plan if v is None)) if progress else None
    fresh = embedder.embed_passages(texts, advance) if texts else None

    all_passages: list[Passage] = []
    originals: list[np.ndarray] = []
    folded: list[np.ndarray] = []
    cursor = 0
    m = len(to_embed)
    for _, passages, cached_vectors in plan:
        k = len(passages)
        if cached_vectors is not None:
            originals.append(cached_vectors[:k])
            folded.append(cached_vectors[k:])
        else:
            assert fresh is not None
            originals.append(fresh[cursor : cursor + k])
            folded.append(fresh[m + cursor : m + cursor + k])
            cursor += k
        all_passages.extend(passages)

    vectors = np.vstack(originals + folded).astype(np.float32)
    faiss_index = faiss.IndexFlatIP(embedder.dim)
    faiss_index.add(vectors)

    manifest = {
        "format": FORMAT_VERSION,
        "embedder": embedder.name,
        "dim": embedder.dim,
        "splitter": SPLITTER_VERSION,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "source": str(source),
        "passages": len(all_passages),
        "articles": {
            a.article_id: {"hash": a.content_hash, "title": a.title, "url": a.url}
            for a in articles
        },
    }
    _write_atomically(index_dir, manifest, all_passages, vectors, faiss_index)
    embedded = sum(1 for _, _, v in plan if v is None)
    return BuildReport(
        articles=len(articles),
        passages=len(all_passages),
        embedded_articles=embedded,
        reused_articles=len(articles) - embedded,
        removed_articles=len(old_manifest_articles - {a.article_id for a in articles}),
        seconds=time.perf_counter() - started,
    )


def _write_atomically(
    index_dir: Path,
    manifest: dict[str, Any],
    passages: list[Passage],
    vectors: np.ndarray,
    faiss_index: Any,
) -> None:
    """Write into a temporary folder, then swap files in, manifest last.

    A reader (the action server) never sees a manifest that promises vectors not yet written.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=index_dir, prefix=".build-") as tmp:
        tmp_dir = Path(tmp)
        with (tmp_dir / "passages.jsonl").open("w", encoding="utf-8") as fh:
            for p in passages:
                fh.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
        np.save(tmp_dir / "vectors.npy", vectors)
        faiss.write_index(faiss_index, str(tmp_dir / "index.faiss"))
        (tmp_dir / MANIFEST).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        for name in ("passages.jsonl", "vectors.npy", "index.faiss", MANIFEST):
            os.replace(tmp_dir / name, index_dir / name)
