"""`chipao demo` (service.demo.build): two rounds of one province built, served without
waiting for the map artefacts (the server's warm-up builds them), and a second run that
finds everything on disk and starts serving without generating or building anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner


@pytest.fixture
def served(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr("service.commands.serve.run_server",
                        lambda settings, **kw: calls.append(str(settings.data_dir)))
    return calls


def _demo(args: list[str]):
    from service.cli import main

    result = CliRunner().invoke(main, ["demo", "--provinces", "TH75", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_serves_at_once_and_a_second_run_builds_nothing(tmp_path, monkeypatch, served):
    from service.settings import load_settings
    from service.store import open_store

    data = tmp_path / "var"
    monkeypatch.setenv("CHIPAO_DATA_DIR", str(data))
    out = _demo(["--rounds", "2561,2562"])
    assert served == [str(data)]
    assert "round 2562" in out and "map artefacts of" not in out
    store = open_store(load_settings({"data_dir": str(data)}, environ={}))
    first = sorted((v.round, v.id) for v in store.versions("demo"))
    assert [r for r, _ in first] == [2561, 2562]
    artefacts = data / "cache" / "artefacts"
    assert not artefacts.exists() or not any(p.is_file() for p in artefacts.rglob("*"))

    def refuse(*args, **kwargs):
        raise AssertionError("a second `chipao demo` must not generate or build")

    monkeypatch.setattr("service.demo.generate.generate_province", refuse)
    monkeypatch.setattr("service.demo.panel.advance_round", refuse)
    monkeypatch.setattr("service.pipeline.process_province", refuse)
    again = _demo(["--rounds", "2561,2562"])
    assert served == [str(data), str(data)]
    assert sorted((v.round, v.id) for v in store.versions("demo")) == first
    assert "generating" not in again and "deriving" not in again
    for _, vid in first:
        assert f"version {vid}" in again
    # other code building the versions (pipeline, analysis, geo, store, boundaries): the
    # rounds are built again from the files on disk (not generated again)
    monkeypatch.undo()
    monkeypatch.setenv("CHIPAO_DATA_DIR", str(data))
    monkeypatch.setattr("service.commands.serve.run_server", lambda settings, **kw: None)
    monkeypatch.setattr("service.demo.generate.generate_province", refuse)
    monkeypatch.setattr("service.demo.build.build_code_digest", lambda bdir: "other code")
    rebuilt = _demo(["--rounds", "2561"])
    assert "generating" not in rebuilt
    now = store.versions("demo", superseded=True)
    assert len(now) == 3 and {v.id for v in now} > {vid for _, vid in first}


def test_demo_without_serving_builds_the_map_artefacts(tmp_path, monkeypatch, served):
    data = tmp_path / "var"
    monkeypatch.setenv("CHIPAO_DATA_DIR", str(data))
    out = _demo(["--rounds", "2561", "--no-serve"])
    assert served == []
    assert "map artefacts of" in out
    built = [p for p in Path(data, "cache", "artefacts").rglob("*") if p.is_file()]
    assert any(p.name.startswith("values-tambon-TH75") for p in built), built


def _tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    import json

    out = {}
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        if f.name in skip:
            continue
        data = f.read_bytes()
        if f.suffix == ".json":  # timings differ from run to run
            value = json.loads(data)
            value.pop("seconds", None)
            data = json.dumps(value, sort_keys=True).encode()
        out[f.relative_to(root).as_posix()] = data
    return out


def test_rounds_generated_beside_the_builds_give_the_same_files_and_versions(tmp_path):
    """A fresh `chipao demo` generates the provinces in a second process while it builds
    them; the files and versions are the bytes of generating everything first."""
    from service.demo.build import build_demo, source_dir
    from service.demo.panel import generate_panel
    from service.settings import load_settings
    from service.store import open_store

    trees = []
    for name, first in (("beside", False), ("first", True)):
        data = tmp_path / name
        settings = load_settings({"data_dir": str(data)}, environ={})
        src = source_dir(data, 2561, ["TH75"])
        if first:  # every file on disk before the builds (the other path of build_demo)
            generate_panel([2561, 2562], seed=2561, out=src, provinces=["TH75"])
        lines: list[str] = []
        versions = build_demo(settings, provinces=["TH75"], seed=2561, dataset="demo",
                              rounds="2561,2562", echo=lines.append, map_artefacts=False)
        assert [v.round for v in versions] == [2561, 2562]
        assert any("generated beside the builds" in x for x in lines) is not first
        store = open_store(settings)
        built = {v.round: _tree(Path(v.path), skip=("version.json",))
                 for v in store.versions("demo")}
        trees.append((_tree(src), built))
    (src_a, built_a), (src_b, built_b) = trees
    assert src_a.keys() == src_b.keys() and src_a == src_b
    assert any(k.endswith("r2562/persons/TH75.parquet") for k in src_a)
    assert built_a.keys() == {2561, 2562} and built_a == built_b
    assert any(k.startswith("areas/") for k in built_a[2562])
