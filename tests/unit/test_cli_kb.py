"""The `cskh kb` contract, exercised as a user runs it: the installed console script."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CSKH = shutil.which("cskh", path=str(Path(sys.executable).parent)) or "cskh"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CSKH, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture()
def built_index(articles_dir: Path, tmp_path: Path) -> Path:
    index = tmp_path / "index"
    result = run("kb", "build", "--source", str(articles_dir), "--index", str(index))
    assert result.returncode == 0, result.stderr
    assert "3 articles, 5 passages (3 embedded" in result.stdout
    return index


def test_search_queries_file_prints_one_json_line_per_query_in_order(
    built_index: Path, tmp_path: Path
) -> None:
    queries = [
        "phi ship ra ha noi bao nhieu", "quên mật khẩu thì làm sao", "hoàn tiền mất mấy ngày"
    ]
    qfile = tmp_path / "q.txt"
    qfile.write_text("\n".join(queries) + "\n", encoding="utf-8")
    result = run("kb", "search", "--queries", str(qfile), "--index", str(built_index),
                 "--top-k", "2", "--json")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["query"] for line in lines] == queries
    for line in lines:
        assert len(line["results"]) == 2
        for hit in line["results"]:
            assert set(hit) == {"title", "section", "url", "text", "score"}
            assert isinstance(hit["score"], float)
    assert lines[0]["results"][0]["url"] == "https://shop.vn/phi-van-chuyen"
    assert "20.000đ" in lines[0]["results"][0]["text"]
    assert lines[1]["results"][0]["section"] == "Lấy lại mật khẩu bằng OTP"
    assert lines[2]["results"][0]["section"] == "Thời gian hoàn tiền"


def test_single_query_json(built_index: Path) -> None:
    result = run("kb", "search", "đổi trả trong bao lâu", "--index", str(built_index), "--json")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    payload = json.loads(line)
    assert payload["query"] == "đổi trả trong bao lâu"
    assert payload["results"][0]["title"] == "Đổi trả và hoàn tiền"


@pytest.mark.parametrize("kind", ["empty", "missing"])
def test_build_refuses_unusable_source_clearly(tmp_path: Path, kind: str) -> None:
    source = tmp_path / "src"
    if kind == "empty":
        source.mkdir()
    result = run("kb", "build", "--source", str(source), "--index", str(tmp_path / "i"))
    assert result.returncode != 0
    assert "cskh: error:" in result.stderr and str(source) in result.stderr
    assert "Traceback" not in result.stderr


def test_search_without_index_explains_how_to_build(tmp_path: Path) -> None:
    result = run("kb", "search", "phí ship", "--index", str(tmp_path / "none"))
    assert result.returncode != 0
    assert "cskh kb build" in result.stderr and "Traceback" not in result.stderr
