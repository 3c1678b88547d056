"""Two real-looking rounds linked person to person: ingest derives person_id from the keyed
HMAC of the national ID, so the same person has the same pseudonym in both rounds and the
panel stage matches them; records without a national ID link by household and are
reported."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from ingest_support import KEY, settings_for

from service.demo.panel import generate_panel, round_dir
from service.ingest.pseudonym import Pseudonymiser
from service.ingest.run import ingest_files
from service.store import open_store

BLANKED = 40


def _csv(frame: pl.DataFrame, path: Path) -> Path:
    from service.export import export_frame

    path.write_bytes(export_frame(frame.drop("person_id").to_pandas(), "csv"))
    return path


def test_two_ingested_rounds_link_person_to_person(tmp_path):
    src = tmp_path / "panel"
    generate_panel([2561, 2562], seed=5, out=src, amphoes=["TH7502"], with_identifiers=True)
    r1 = pl.read_parquet(round_dir(src, 2561) / "persons" / "TH75.parquet")
    r2 = pl.read_parquet(round_dir(src, 2562) / "persons" / "TH75.parquet")
    # the same synthetic person keeps their national ID; some of round 2 come without one
    followed = r1.join(r2, on="person_id", suffix="_2")
    assert (followed["national_id"] == followed["national_id_2"]).all()
    blank_ids = set(followed.sort("person_id")["person_id"].head(BLANKED).to_list())
    r2_file = r2.with_columns(pl.when(pl.col("person_id").is_in(list(blank_ids)))
                              .then(None).otherwise(pl.col("national_id"))
                              .alias("national_id"))
    settings = settings_for(tmp_path)
    first = ingest_files(settings, [_csv(r1, tmp_path / "r2561.csv")], dataset="bmn",
                         round=2561)
    second = ingest_files(settings, [_csv(r2_file, tmp_path / "r2562.csv")], dataset="bmn",
                          round=2562)
    assert first.status == second.status == "created", second.summary()
    # reported: who is linked by household (and name) only
    assert second.notice_counts[("national_id", "no_national_id")] == BLANKED
    assert first.notice_counts[("national_id", "no_national_id")] == 0

    store = open_store(settings)
    version = store.current("bmn")
    assert version.round == 2562
    assert version.meta["panel"] == {"previous_version": first.version_id,
                                     "previous_round": 2561}
    stored = store.read_persons("bmn", "TH75")
    # pseudonyms are the keyed HMAC of the national ID, the same in both rounds
    with_id = r2_file.filter(pl.col("national_id").is_not_null())
    want = set(Pseudonymiser(KEY).many("pid", with_id["national_id"].to_list()))
    assert want <= set(stored["person_id"].to_list())
    country = store.read_areas("bmn", "country").iloc[0]
    # persons: everyone followed, except those who came without a national ID in round 2
    assert country["pnl_p_matched"] == followed.height - BLANKED
    assert country["pnl_p_new"] == r2.height - followed.height + BLANKED
    assert country["pnl_p_left"] == r1.height - followed.height + BLANKED
    # households (house registration ids) link everyone, with or without a national ID
    hh_both = r1.select("hh_id").unique().join(r2.select("hh_id").unique(), on="hh_id")
    assert country["pnl_hh_matched"] == hh_both.height
    assert country["n_households"] == (country["pnl_hh_matched"] + country["pnl_hh_new"])
