"""Reading help-center articles (.md, .txt, .html) and splitting them into passages.

A passage is one section of an article (split by headings) and carries the article's title and
its section heading, so an answer can cite where it came from. Very long sections are split on
paragraph boundaries so that each passage stays focused enough to embed well.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from pathlib import Path

import yaml

SUPPORTED_SUFFIXES = (".md", ".txt", ".html", ".htm")
# Bumped whenever splitting changes, so an index built by older code is re-embedded.
SPLITTER_VERSION = "3"
MAX_PASSAGE_CHARS = 1400

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.DOTALL)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


class IngestError(Exception):
    """An article folder or file that cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Passage:
    article_id: str
    title: str
    section: str
    url: str
    category: str
    text: str

    def embedding_text(self) -> str:
        # Title and heading carry most of the topic; e5 embeds them with the body.
        if self.section and self.section != self.title:
            return f"{self.title}. {self.section}. {self.text}"
        return f"{self.title}. {self.text}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Article:
    article_id: str
    title: str
    category: str
    url: str
    updated: str
    sections: tuple[tuple[str, str], ...]  # (heading, body) in reading order
    content_hash: str

    def passages(self) -> list[Passage]:
        out: list[Passage] = []
        for heading, body in self.sections:
            for chunk in _split_long(body):
                out.append(
                    Passage(self.article_id, self.title, heading, self.url, self.category, chunk)
                )
        return out


def _split_long(body: str) -> list[str]:
    body = body.strip()
    if not body:
        return []
    if len(body) <= MAX_PASSAGE_CHARS:
        return [body]
    chunks: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", body):
        if current and len(current) + len(paragraph) > MAX_PASSAGE_CHARS:
            chunks.append(current.strip())
            current = ""
        current += paragraph + "\n\n"
    if current.strip():
        chunks.append(current.strip())
    return chunks


def _clean_markdown(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images say nothing to a chat answer
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|`)", "", text)
    text = re.sub(r"^\s*\|?[-:| ]+\|?\s*$", "", text, flags=re.MULTILINE)  # table rulers
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _split_markdown(title: str, body: str) -> list[tuple[str, str]]:
    sections: list[tuple[str, str]] = []
    heading = title
    lines: list[str] = []
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            if match.group(1) == "#" and not sections and not "".join(lines).strip():
                heading = title  # a leading "# Title" repeats the front matter
                continue
            sections.append((heading, _clean_markdown("\n".join(lines))))
            heading, lines = match.group(2).strip(), []
        else:
            lines.append(line)
    sections.append((heading, _clean_markdown("\n".join(lines))))
    return [(h, b) for h, b in sections if b]


class _HtmlSections(HTMLParser):
    """Collects <title>, <meta name=...> and text grouped under h1-h3 headings."""

    _BLOCKS = frozenset({"p", "li", "td", "th", "div", "br", "tr", "section", "article"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self.sections: list[tuple[str, list[str]]] = [("", [])]
        self._in: str | None = None
        self._heading_text: list[str] = []
        self._skip = 0
        # One entry per open <ul>/<ol>: None for bullets, else the last number given. Items
        # keep a "- " / "1. " marker so that the answer never cuts a list in the middle
        # (actions/faq.py keeps a run of items whole, and needs to see them as items).
        self._lists: list[int | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "meta":
            values = dict(attrs)
            if values.get("name") and values.get("content"):
                self.meta[str(values["name"]).lower()] = str(values["content"])
        elif tag in ("title", "h1", "h2", "h3", "h4"):
            self._in, self._heading_text = tag, []
        elif tag in ("ul", "ol"):
            self._lists.append(None if tag == "ul" else 0)
        elif tag == "li":
            number = self._lists[-1] if self._lists else None
            if number is None:
                self.sections[-1][1].append("\n- ")
            else:
                self._lists[-1] = number + 1
                self.sections[-1][1].append(f"\n{number + 1}. ")
        elif tag in self._BLOCKS:
            self.sections[-1][1].append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("ul", "ol"):
            if self._lists:
                self._lists.pop()
            self.sections[-1][1].append("\n")
        elif tag == self._in:
            text = " ".join("".join(self._heading_text).split())
            if tag == "title" or (tag == "h1" and not self.title):
                self.title = text
            elif tag != "h1":
                self.sections.append((text, []))
            self._in = None
        elif tag in self._BLOCKS:
            self.sections[-1][1].append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in:
            self._heading_text.append(data)
        else:
            self.sections[-1][1].append(data)


def _parse_html(raw: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    parser = _HtmlSections()
    parser.feed(raw)
    meta = dict(parser.meta)
    meta.setdefault("title", parser.title)
    sections = []
    for heading, parts in parser.sections:
        text = "\n".join(" ".join(line.split()) for line in "".join(parts).splitlines())
        text = re.sub(r"\n{2,}", "\n", text).strip()
        if text:
            sections.append((heading or meta["title"], text))
    return meta, sections


def read_article(path: Path) -> Article:
    try:
        raw_bytes = path.read_bytes()
        raw = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror})") from exc
    article_id = path.stem
    meta: dict[str, str] = {}
    if path.suffix.lower() in (".html", ".htm"):
        meta, sections = _parse_html(raw)
    else:
        body = raw
        match = _FRONT_MATTER.match(raw)
        if match:
            meta = _front_matter(path, match.group(1))
            body = raw[match.end() :]
        if "title" not in meta:
            # Plain text without front matter: the first non-empty line is the title.
            first, _, rest = body.strip().partition("\n")
            meta["title"], body = first.lstrip("# ").strip(), rest
        sections = _split_markdown(meta["title"], body)
    title = meta.get("title") or article_id
    if not sections:
        raise IngestError(f"{path}: no text found")
    digest = hashlib.sha256(SPLITTER_VERSION.encode() + raw_bytes).hexdigest()
    return Article(
        article_id=article_id,
        title=title,
        category=meta.get("category", ""),
        url=meta.get("url", ""),
        updated=meta.get("updated", ""),
        sections=tuple(sections),
        content_hash=digest,
    )


_PLAIN_FIELD = re.compile(r"([A-Za-z_][\w-]*):[ \t]*(.*)")


def _front_matter(path: Path, text: str) -> dict[str, str]:
    """The article's fields. People write "title: Chuyến bay chậm, hủy: quyền lợi" without
    quotes, which YAML refuses (a second ": "): lines that are each "field: value" are read
    as such; anything else YAML cannot read is an error naming the file."""
    try:
        loaded = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        lines = [line for line in text.splitlines() if line.strip()]
        plain = [_PLAIN_FIELD.fullmatch(line.strip()) for line in lines]
        if not lines or not all(plain):
            raise IngestError(f"{path}: broken front matter ({exc})") from exc
        return {m.group(1): m.group(2).strip().strip("\"'") for m in plain if m}
    if not isinstance(loaded, dict):
        raise IngestError(f"{path}: front matter is not a list of 'field: value' lines")
    return {str(k): str(v) for k, v in loaded.items()}


def find_article_files(source: Path) -> list[Path]:
    if not source.exists():
        raise IngestError(f"{source}: no such folder")
    if not source.is_dir():
        raise IngestError(f"{source}: not a folder")
    try:
        files = sorted(
            p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
        )
    except OSError as exc:
        raise IngestError(f"{source}: cannot list folder ({exc.strerror})") from exc
    # A link out of the folder would publish whatever it points at (another shop's files,
    # /etc/...) as a help-center answer: refuse it, naming the file.
    root = source.resolve()
    for path in files:
        if not path.resolve().is_relative_to(root):
            raise IngestError(f"{path}: links outside {source}; copy the article in instead")
    if not files:
        raise IngestError(
            f"{source}: no articles found (expected {', '.join(SUPPORTED_SUFFIXES)} files)"
        )
    return files


def read_articles(source: Path) -> list[Article]:
    articles = [read_article(p) for p in find_article_files(source)]
    seen: dict[str, str] = {}
    for article in articles:
        if article.article_id in seen:
            raise IngestError(
                f"two articles share the id {article.article_id!r}: rename one of them"
            )
        seen[article.article_id] = article.title
    return articles
