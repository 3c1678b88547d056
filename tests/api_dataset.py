"""A small, hand-made scored dataset written into a real store (two provinces, two rounds).

Chiang Mai (TH50) and Bangkok (TH10): two tambons each, villages of 3, 8, 14 and 30
households, so the public views must suppress some of them. Used by the API, security and
OpenAPI tests.
"""

from __future__ import annotations

import h3
import numpy as np
import polars as pl

from service.analysis.aggregate import admin_names, aggregate
from service.geo import boundaries
from service.store import open_store

VILLAGE_SIZES = (3, 8, 14, 30)
OTHER_DIMENSIONS = ("health", "living", "education", "accessibility")
OTHER_INDICATORS = (1, 4, 5, 7, 8, 9, 10, 11, 15, 16, 17, 19, 20, 21, 27, 28)
PROVINCES = ("TH50", "TH10")
DATASET = "demo"


def tambons_of(settings, province: str, n: int = 2) -> list[tuple[str, float, float]]:
    """First ``n`` tambons of the province's first amphoe, with an interior point each."""
    tambons = boundaries.load_level(settings["boundaries_dir"], "tambon")
    sub = tambons[tambons["code"].str.startswith(province)].sort_values("code").iloc[:n]
    pts = sub.geometry.representative_point()
    return [(c, float(p.x), float(p.y)) for c, p in zip(sub["code"], pts, strict=True)]


def scored_persons(settings, province: str, *, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for tambon, lon, lat in tambons_of(settings, province):
        for v, size in enumerate(VILLAGE_SIZES, start=1):
            village = f"{tambon}{v:02d}"
            for h in range(size):
                hh = f"{village}-{h:03d}"
                hx, hy = lon + rng.normal(0, 0.01), lat + rng.normal(0, 0.01)
                members = int(rng.integers(1, 5))
                ages = rng.integers(0, 90, members)
                poor_hh = bool(rng.random() < 0.35)
                for m in range(members):
                    c = float(rng.uniform(0.34, 0.8) if poor_hh else rng.uniform(0, 0.3))
                    age = int(ages[m])
                    elig_e = age >= 60
                    rows.append({
                        "person_id": f"{hh}-{m}", "hh_id": hh, "village_id": village,
                        "tambon_code": tambon, "amphoe_code": tambon[:6],
                        "province_code": province, "tambon_located": tambon,
                        "lon": hx, "lat": hy, "age": age, "sex": "F" if m % 2 else "M",
                        "disabled": bool(rng.random() < 0.05),
                        "welfare_card": poor_hh, "mpi_c": c, "mpi_poor": c >= 0.33,
                        "mpi_vulnerable": 0.2 <= c < 0.33, "mpi_severe": c >= 0.5,
                        "dep_ind22": int(poor_hh), "tpmap_deprived_any": poor_hh,
                        # the other indicators (no random draw: the fixture stays the same),
                        # so that maps can re-count the poor at another cut-off k
                        **{f"dep_ind{i}": int(poor_hh and (h + m + i) % 3 == 0)
                           for i in OTHER_INDICATORS},
                        "tpmap_target_poor": poor_hh, "tpmap_dim_income": poor_hh,
                        **{f"tpmap_dim_{d}": False for d in OTHER_DIMENSIONS},
                        "hh_mpi_poor": poor_hh, "hh_crossgen": poor_hh and age < 18,
                        "grp_child": age < 18, "grp_elderly": age >= 60,
                        "elig_elderly_allowance": elig_e,
                        "cov_elderly_allowance": elig_e and rng.random() < 0.8,
                        # a hostile value that must never become a live spreadsheet formula
                        "note": "=HYPERLINK(\"http://x\")" if h == 0 else "ok",
                    })
    frame = pl.DataFrame(rows)
    for r in (6, 7, 8, 9):
        cells = [h3.str_to_int(h3.latlng_to_cell(la, lo, r))
                 for lo, la in zip(frame["lon"], frame["lat"], strict=True)]
        frame = frame.with_columns(pl.Series(f"h3_r{r}", cells, dtype=pl.UInt64))
    return frame


def build(settings, *, rounds=(2561, 2562), provinces=PROVINCES) -> list[str]:
    """Write one version per round; returns the version ids (last = current)."""
    store = open_store(settings)
    names = admin_names(boundaries.hierarchy(settings["boundaries_dir"]))
    ids = []
    for i, rnd in enumerate(rounds):
        persons = {p: scored_persons(settings, p, seed=10 * i + k)
                   for k, p in enumerate(provinces)}
        tables = aggregate(list(persons.values()), names=names)
        with store.write_version(DATASET, round=rnd, source_sha256=f"{rnd:064d}") as w:
            for p, frame in persons.items():
                frame.write_parquet(w.persons_path(p))
            for level, table in tables.items():
                table.write_parquet(w.areas_path(level))
            n_p = sum(len(f) for f in persons.values())
            n_h = sum(f["hh_id"].n_unique() for f in persons.values())
            v = w.publish(n_persons=n_p, n_households=n_h, meta={"levels": list(tables)})
        ids.append(v.id)
    return ids


PASSWORD = "correct horse battery"
#: test accounts: name -> (role, province)
ACCOUNTS = {"nat": ("national", None), "cm": ("provincial", "TH50"),
            "bkk": ("provincial", "TH10")}


def build_app(tmp, **overrides):
    """(app, {account: bearer token}, version ids) over a freshly built store in ``tmp``."""
    from service import create_app
    from service.api.auth import user_store

    app = create_app({"testing": True, "data_dir": str(tmp / "var"), "secret_key": "t",
                      "rate_limit": "1000000 per minute", "min_cell_households": 10,
                      **overrides})
    ids = build(app.config["CHIPAO"])
    users = user_store(app)
    tokens = {}
    for name, (role, prov) in ACCOUNTS.items():
        users.create_user(name, PASSWORD, role, prov)
        tokens[name] = users.create_token(name)[0]
    return app, tokens, ids
