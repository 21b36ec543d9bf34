"""Issue 19 (hardening): one test per fault, named after it. The fault table is docs/faults.md."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from playbook.cli import main
from playbook.config.loader import MAX_VALUES, load_config
from playbook.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _alias_bomb(levels: int, width: int = 9) -> str:
    """The fault probe's file: ``levels`` nested anchors, each a list of ``width`` aliases of the last."""
    lines = ['a0: &a0 ["x"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [7, 8])
def test_fault_05_yaml_alias_bomb_is_refused_within_a_second(tmp_path: Path, levels: int) -> None:
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(_alias_bomb(levels), encoding="utf-8")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="more than 100,000 values once YAML aliases"):
        load_config(cfg)
    assert time.perf_counter() - t0 < 1.0
    assert main(["check-config", str(cfg)]) == 2


def test_fault_05_ordinary_anchors_still_load(tmp_path: Path) -> None:
    """Anchors used as intended (a shared block) stay fine: the limit is on the expanded size."""
    text = (ROOT / "campaigns" / "holiday-2025.yaml").read_text(encoding="utf-8")
    text = text.replace("  paid_search: {min_budget: 25000, max_budget: 70000}",
                        "  paid_search: &bounds {min_budget: 25000, max_budget: 70000}")
    text = text.replace("  paid_social: {min_budget: 15000, max_budget: 50000}", "  paid_social: *bounds")
    text = text.replace("slug: holiday-2025", "slug: anchors")
    cfg = tmp_path / "anchors.yaml"
    cfg.write_text(text, encoding="utf-8")
    loaded = load_config(cfg)
    assert loaded.channels["paid_social"].max_budget == 70000
    assert 9 ** 4 < MAX_VALUES  # the bound leaves room for real configs with anchors


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5"])
def test_fault_10_timeout_zero_or_negative_is_rejected(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["run", "campaigns/holiday-2025.yaml", "--timeout", value])
    assert exc.value.code == 2
    assert "--timeout" in capsys.readouterr().err


def test_the_segment_step_reuses_the_preflight_validation(tmp_path: Path, monkeypatch) -> None:
    """`playbook run` validates the data before any notebook; the segment step's audit must find
    that result in the cache (its key includes the campaign's default country, which the preflight
    did not set: 02 validated again, 32 s at 1M customers)."""
    from types import SimpleNamespace

    from playbook.cli import preflight
    from playbook.data import cache, validate
    from playbook.data.warehouse import connect
    from tests.sample_data import small_sample

    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(tmp_path / "cache"))
    cfg = load_config(ROOT / "campaigns" / "holiday-2025.yaml")
    preflight(cfg, str(small_sample()))

    def must_not_run(*_a, **_k):
        raise AssertionError("validated again: the preflight result was not reused")

    monkeypatch.setattr(validate, "validate", must_not_run)
    wh = connect(small_sample())
    wh.default_country = cfg.countries[0]  # as start_step does
    assert cache.validation(SimpleNamespace(wh=wh, cfg=cfg)).ok
