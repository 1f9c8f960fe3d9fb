from pathlib import Path

import pytest

from actions.faq import extract_answer
from knowledge_base.ingest import MAX_PASSAGE_CHARS, IngestError, read_article, read_articles

MD = """---
title: Phí vận chuyển
category: Vận chuyển
url: https://example.vn/phi
updated: 2026-01-01
---
# Phí vận chuyển

Giới thiệu chung về phí.

## Nội thành
Phí **20.000đ**, xem [bảng giá](https://example.vn/bang-gia).

### Đơn lớn
Miễn phí từ 500.000đ.
"""


def test_markdown_is_split_by_headings_with_title_and_section(tmp_path: Path) -> None:
    (tmp_path / "phi.md").write_text(MD, encoding="utf-8")
    article = read_article(tmp_path / "phi.md")
    assert article.title == "Phí vận chuyển"
    assert article.url == "https://example.vn/phi"
    passages = article.passages()
    assert [(p.section, p.text) for p in passages] == [
        ("Phí vận chuyển", "Giới thiệu chung về phí."),
        ("Nội thành", "Phí 20.000đ, xem bảng giá."),
        ("Đơn lớn", "Miễn phí từ 500.000đ."),
    ]
    assert all(p.title == "Phí vận chuyển" and p.article_id == "phi" for p in passages)


def test_txt_without_front_matter_takes_first_line_as_title(tmp_path: Path) -> None:
    (tmp_path / "doi-tra.txt").write_text(
        "Chính sách đổi trả\n## Thời hạn\nĐổi trong 7 ngày.\n", encoding="utf-8"
    )
    article = read_article(tmp_path / "doi-tra.txt")
    assert article.title == "Chính sách đổi trả"
    assert [(p.section, p.text) for p in article.passages()] == [("Thời hạn", "Đổi trong 7 ngày.")]


def test_html_sections_meta_and_no_script_text(tmp_path: Path) -> None:
    (tmp_path / "mk.html").write_text(
        '<html><head><title>Quên mật khẩu</title><meta name="url" content="https://e.vn/mk">'
        "</head><body><h1>Quên mật khẩu</h1><p>Mở đầu.</p><h2>Dùng OTP</h2>"
        "<p>Nhập số điện thoại.</p><ul><li>Nhận mã</li></ul><script>alert('x')</script>"
        "</body></html>",
        encoding="utf-8",
    )
    article = read_article(tmp_path / "mk.html")
    assert article.title == "Quên mật khẩu"
    assert article.url == "https://e.vn/mk"
    sections = dict((p.section, p.text) for p in article.passages())
    assert sections["Dùng OTP"] == "Nhập số điện thoại.\n- Nhận mã"
    assert "alert" not in " ".join(sections.values())


def test_html_list_items_keep_their_markers_so_answers_never_cut_them(tmp_path: Path) -> None:
    """An HTML list reached the answer as plain lines: the intro "gồm:" was sent without the
    items it announces. Items now carry "- " / "1. ", numbered per list, nested lists too."""
    (tmp_path / "mk.html").write_text(
        "<html><head><title>Quên mật khẩu</title></head><body><h2>Các bước</h2>"
        "<p>Làm như sau:</p><ol><li>Bấm Quên mật khẩu</li><li>Nhập OTP"
        "<ul><li>mã có 6 số</li></ul></li><li>Đặt mật khẩu mới</li></ol>"
        "<p>Xong.</p><ol><li>Lại từ đầu</li></ol></body></html>",
        encoding="utf-8",
    )
    (passage,) = read_article(tmp_path / "mk.html").passages()
    assert passage.text.splitlines() == [
        "Làm như sau:", "1. Bấm Quên mật khẩu", "2. Nhập OTP", "- mã có 6 số",
        "3. Đặt mật khẩu mới", "Xong.", "1. Lại từ đầu",
    ]
    long_tail = " ".join(["Câu phụ rất dài để vượt giới hạn độ dài câu trả lời."] * 12)
    steps = extract_answer("quên mật khẩu làm sao", f"{passage.text}\n{long_tail}", 200)
    assert "1. Bấm Quên mật khẩu" in steps and "3. Đặt mật khẩu mới" in steps


def test_long_sections_are_split_on_paragraphs(tmp_path: Path) -> None:
    paragraph = "Câu dài về chính sách bảo hành sản phẩm. " * 12
    body = "\n\n".join([paragraph] * 8)
    (tmp_path / "bh.md").write_text(f"---\ntitle: Bảo hành\n---\n## Điều kiện\n{body}\n", "utf-8")
    passages = read_article(tmp_path / "bh.md").passages()
    assert len(passages) > 1
    assert all(len(p.text) <= MAX_PASSAGE_CHARS for p in passages)
    assert {p.section for p in passages} == {"Điều kiện"}


def test_content_hash_changes_with_content(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(MD, encoding="utf-8")
    first = read_article(path).content_hash
    path.write_text(MD.replace("20.000đ", "25.000đ"), encoding="utf-8")
    assert read_article(path).content_hash != first


@pytest.mark.parametrize("setup", ["missing", "empty", "only-other-files"])
def test_unusable_folders_are_refused_clearly(tmp_path: Path, setup: str) -> None:
    source = tmp_path / "src"
    if setup != "missing":
        source.mkdir()
    if setup == "only-other-files":
        (source / "image.png").write_bytes(b"\x89PNG")
    with pytest.raises(IngestError, match=r"no such folder|no articles found"):
        read_articles(source)


def test_a_title_with_a_colon_unquoted_is_read_as_written(tmp_path: Path) -> None:
    # YAML refuses a second ": " in a value; people write titles like this.
    (tmp_path / "cham.md").write_text(
        "---\ntitle: Chuyến bay chậm, hủy: quyền lợi và bồi thường\n"
        "url: https://example.vn/cham\n---\n## Bồi thường\nTrễ trên 3 giờ: 300.000đ.\n",
        encoding="utf-8",
    )
    article = read_article(tmp_path / "cham.md")
    assert article.title == "Chuyến bay chậm, hủy: quyền lợi và bồi thường"
    assert article.url == "https://example.vn/cham"


@pytest.mark.parametrize("front", ["title: [unclosed\n  - x", "- just\n- a list"])
def test_front_matter_that_is_not_fields_names_the_file(tmp_path: Path, front: str) -> None:
    (tmp_path / "bad.md").write_text(f"---\n{front}\n---\n## A\ntext\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"bad\.md: (broken )?front matter"):
        read_articles(tmp_path)


def test_broken_utf8_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.md").write_bytes(b"---\ntitle: x\n---\n## A\n\xff\xfe broken")
    with pytest.raises(IngestError, match=r"bad\.md: not valid UTF-8"):
        read_articles(tmp_path)


def test_links_out_of_the_source_folder_are_refused(tmp_path: Path) -> None:
    source = tmp_path / "articles"
    source.mkdir()
    (source / "a.md").write_text("---\ntitle: A\n---\nNội dung A.\n", encoding="utf-8")
    # A link inside the folder is an ordinary alias and stays allowed.
    (source / "alias.md").symlink_to(source / "a.md")
    assert [a.article_id for a in read_articles(source)] == ["a", "alias"]
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd.md").write_text("root:x:0:0\n", encoding="utf-8")
    (source / "leak.md").symlink_to(outside / "passwd.md")
    with pytest.raises(IngestError, match=r"leak\.md: links outside"):
        read_articles(source)
    (source / "leak.md").unlink()
    # A linked folder is not walked into at all.
    (source / "dir").symlink_to(outside, target_is_directory=True)
    assert [a.article_id for a in read_articles(source)] == ["a", "alias"]
