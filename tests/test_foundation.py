import json

import pytest
from click.testing import CliRunner

from service import create_app
from service.cli import main
from service.geo import boundaries
from service.settings import REPO_ROOT, SETTINGS, load_settings


def test_info_counts_real_boundaries(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIPAO_DATA_DIR", str(tmp_path / "var"))  # never var/ in the tree
    result = CliRunner().invoke(main, ["info"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert (info["provinces"], info["amphoes"], info["tambons"]) == (77, 928, 7425)


def test_hierarchy_names_and_nesting():
    h = boundaries.hierarchy(str(REPO_ROOT / "boundaries"))
    assert h.name("TH10", "th") == "กรุงเทพมหานคร"
    assert h.name("TH10", "en") == "Bangkok"
    assert "TH100101" in h.children("TH1001")
    assert all(c.startswith("TH50") for c in h.children("TH50"))
    assert boundaries.validate(str(REPO_ROOT / "boundaries")) == []


def test_codes():
    assert boundaries.level_of("TH1001") == "amphoe"
    assert boundaries.parent_code("TH10010103") == "TH100101"
    assert boundaries.from_dopa(530407) == "TH530306"
    with pytest.raises(ValueError):
        boundaries.level_of("10")


def test_settings_env_and_overrides_and_unknown():
    s = load_settings({"port": "9000"}, environ={"CHIPAO_MIN_CELL_HOUSEHOLDS": "12"})
    assert s["port"] == 9000 and s["min_cell_households"] == 12
    with pytest.raises(ValueError, match="unknown setting"):
        load_settings({"no_such_setting": 1}, environ={})
    with pytest.raises(ValueError, match="port"):
        load_settings({"port": "eighty"}, environ={})


def test_every_setting_documented_in_readme():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"CHIPAO_{s.name.upper()}" not in readme]
    assert missing == []


def test_app_factory_has_no_global_state(tmp_path):
    a = create_app({"data_dir": str(tmp_path / "a"), "testing": True})
    b = create_app({"data_dir": str(tmp_path / "b"), "testing": True})
    assert a.config["CHIPAO"]["data_dir"] != b.config["CHIPAO"]["data_dir"]


@pytest.mark.parametrize("bad", [{"MIN_CELL_HOUSEHOLDS": 3}, {"Port": 1}, {"porT": 1},
                                 {"min_cell_household": 3}])
def test_unknown_or_wrong_case_settings_raise(bad, tmp_path):
    """Wave 1 ignored upper/mixed-case keys silently (a typo fell back to the default)."""
    with pytest.raises(ValueError, match="unknown setting"):
        create_app({"data_dir": str(tmp_path), **bad})


def test_settings_are_typed_frozen_attributes_and_a_mapping():
    import dataclasses

    from service.settings import Settings, as_settings

    s = load_settings({"port": "9000", "testing": "yes"}, environ={})
    assert isinstance(s, Settings) and s.port == 9000 and s.testing is True
    assert s["port"] == s.port and dict(s)["port"] == 9000 and len(s) == len(SETTINGS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]
    with pytest.raises(KeyError):
        s["nope"]
    assert s.replace(port=8080).port == 8080 and s.port == 9000
    partial = as_settings({"data_dir": "/tmp/x"})
    assert partial.min_cell_households == 10 and partial.data_dir == "/tmp/x"
    assert as_settings(s) is s
