"""Home page (GET /): dataset and round, headline figures as the viewer may see them, the
top-10 provinces by target-poor rate, links; empty store; Thai and English.

Expected figures are computed here from the store's own area tables (and
``analysis.disclosure.suppress`` for public viewers), never typed in.
"""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from service.analysis.disclosure import suppress
from service.render.catalogue import format_value
from service.store import open_store

WITHHELD = "ไม่เปิดเผย · withheld"


@pytest.fixture(scope="module")
def small_k(tmp_path_factory):
    """Two provinces (110 households each), k = 10: nothing national is suppressed."""
    import api_dataset

    return api_dataset.build_app(tmp_path_factory.mktemp("home10"), min_cell_households=10)


@pytest.fixture(scope="module")
def big_k(tmp_path_factory):
    """k = 200: both provinces (110 households) are suppressed, the country (220) is not,
    but its elderly-allowance exclusion (fewer than 200 eligible) is withheld item by item."""
    import api_dataset

    return api_dataset.build_app(tmp_path_factory.mktemp("home200"), min_cell_households=200)


def page(setup, who=None) -> str:
    app, tokens, _ = setup
    headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
    resp = app.test_client().get("/", headers=headers)
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    return resp.get_data(as_text=True)


def _cells(row_html: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row_html, flags=re.S)]


def rows(text: str, attr: str) -> dict[str, list[str]]:
    """``{data-<attr> value: [cell texts]}`` of the page's tables."""
    found = re.findall(rf'<tr data-{attr}="([^"]+)"[^>]*>(.*?)</tr>', text, flags=re.S)
    return {key: _cells(body) for key, body in found}


def tables(setup) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    app, _, ids = setup
    settings = app.config["CHIPAO"]
    store = open_store(settings)
    assert store.current("demo").id == ids[-1]
    return (store.read_areas("demo", "country"), store.read_areas("demo", "province"),
            int(settings["min_cell_households"]))


def fmt(value, kind: str) -> str:
    return format_value(None if pd.isna(value) else float(value), kind)


def expected_headline(row: pd.Series) -> dict[str, str]:
    return {
        "n_households": fmt(row["n_households"], "count"),
        "n_persons": fmt(row["n_persons"], "count"),
        "n_target_poor": fmt(row["n_target_poor"], "count"),
        "target_poor_rate": fmt(row["n_target_poor"] / row["n_persons"], "percent"),
        "h": fmt(row["h"], "percent"),
        "a": fmt(row["a"], "percent"),
        "m0": fmt(row["m0"], "ratio"),
    }


def expected_programme(row: pd.Series, p: str) -> list[str]:
    return [fmt(row[f"n_elig_{p}"], "count"), fmt(row[f"n_excl_{p}"], "count"),
            fmt(row[f"cov_{p}"], "percent")]


def programmes_of(frame: pd.DataFrame) -> list[str]:
    return sorted(c[len("n_elig_"):] for c in frame.columns if c.startswith("n_elig_"))


def test_public_headline_equals_the_suppressed_country_table(small_k):
    country, _, k = tables(small_k)
    public = suppress(country, min_households=k, level="country").iloc[0]
    text = page(small_k)
    got = rows(text, "measure")
    want = expected_headline(public)
    assert dict(got.items()) == {m: [v] for m, v in want.items()}
    # figures formatted for people: thousands separators only where the number needs them
    assert got["n_persons"] == [f"{int(public['n_persons']):,}"]
    progs = programmes_of(country)
    assert progs, "the fixture has programme columns"
    got_p = rows(text, "programme")
    assert {p: got_p[p] for p in progs} == {p: expected_programme(public, p) for p in progs}
    # dataset and round of the current version
    _, _, ids = small_k
    assert ids[-1] in text
    assert re.search(r"รอบ\s*<span lang=\"en\">round</span>\s*<strong>2562</strong>", text)
    assert "k = 26 %" in text


def test_top_provinces_ranked_by_public_target_poor_rate_with_map_links(small_k):
    _, provinces, k = tables(small_k)
    public = suppress(provinces, min_households=k, level="province")
    public = public[~public["suppressed"]]
    rate = public["n_target_poor"] / public["n_persons"]
    order = public.assign(rate=rate).sort_values("rate", ascending=False)
    text = page(small_k)
    got = rows(text, "code")
    assert list(got) == list(order["code"])[:10]
    for _, r in order.iterrows():
        rank = list(got).index(r["code"]) + 1
        assert got[r["code"]] == [str(rank), fmt(r["rate"], "percent"),
                                  fmt(r["n_target_poor"], "count"),
                                  fmt(r["n_persons"], "count"), fmt(r["m0"], "ratio")]
        assert f'href="/maps/area/{r["code"]}?measure=target_poor_rate"' in text
        assert str(r["name_th"]) in text and str(r["name_en"]) in text


def test_provincial_user_also_sees_own_province_in_detail(small_k):
    country, provinces, k = tables(small_k)
    own = provinces[provinces["code"] == "TH50"].iloc[0]
    text = page(small_k, "cm")
    public = suppress(country, min_households=k, level="country").iloc[0]
    got = rows(text, "measure")
    want_c, want_p = expected_headline(public), expected_headline(own)
    assert got == {m: [want_c[m], want_p[m]] for m in want_c}
    assert str(own["name_th"]) in text and "Chiang Mai" in text
    # own province row is marked in the top-10 table; sign-out form carries the CSRF token
    assert re.search(r'<tr data-code="TH50" class="own">', text)
    assert 'name="csrf_token"' in text and 'href="/account"' in text


def test_public_viewer_gets_suppression_national_user_detail(big_k):
    country, provinces, k = tables(big_k)
    assert k == 200
    raw = country.iloc[0]
    public = suppress(country, min_households=k, level="country").iloc[0]
    p = "elderly_allowance"
    assert pd.isna(public[f"n_excl_{p}"]) and not pd.isna(raw[f"n_excl_{p}"]), \
        "fixture: the country's elderly exclusion must be withheld from the public at k=200"
    anon = page(big_k)
    got = rows(anon, "programme")[p]
    assert got == [fmt(public[f"n_elig_{p}"], "count"), WITHHELD, WITHHELD]
    # every province is suppressed: none is ranked, and none of their figures is shown
    assert rows(anon, "code") == {}
    assert "ไม่แสดง 2 จังหวัด" in anon
    for _, r in provinces.iterrows():
        assert f'data-code="{r["code"]}"' not in anon
    # a national user sees the country in detail, equal to the raw table
    nat = page(big_k, "nat")
    assert rows(nat, "programme")[p] == expected_programme(raw, p)
    assert rows(nat, "measure") == {m: [v] for m, v in expected_headline(raw).items()}
    # the top-10 list stays public for everyone (no suppressed province appears)
    assert rows(nat, "code") == {}
    # a provincial user sees the public country figures and its own province in detail
    cm = rows(page(big_k, "cm"), "programme")[p]
    own = provinces[provinces["code"] == "TH50"].iloc[0]
    assert cm == [fmt(public[f"n_elig_{p}"], "count"), WITHHELD, WITHHELD,
                  *expected_programme(own, p)]


def test_empty_store_hints_at_demo_and_ingest(client):
    resp = client.get("/")
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert 'id="no-data"' in text
    assert "ยังไม่มีข้อมูล" in text and "No data yet" in text
    assert "chipao demo" in text and "chipao ingest" in text
    assert rows(text, "measure") == {} and rows(text, "code") == {}
    assert 'href="/login"' in text and 'href="/maps/?measure=target_poor_rate"' in text


def test_unknown_dataset_is_empty_and_bad_name_refused(small_k):
    app, _, _ = small_k
    c = app.test_client()
    text = c.get("/?dataset=nosuch").get_data(as_text=True)
    assert 'id="no-data"' in text and "nosuch" in text
    assert c.get("/?dataset=../etc").status_code == 422


def test_thai_and_english_labels_links_and_offline(small_k):
    text = page(small_k)
    for th, en in (("ภาพรวม", "Headline figures"),
                   ("คนตกหล่นจากสวัสดิการ", "People excluded from programmes"),
                   ("ครัวเรือนที่สำรวจ", "Surveyed households"),
                   ("คนจนเป้าหมาย", "Target poor"),
                   ("ดัชนีความยากจนหลายมิติ (M0)", "Multidimensional poverty index (M0)"),
                   ("10 จังหวัดที่มีสัดส่วนคนจนเป้าหมายสูงสุด",
                    "10 provinces with the highest target-poor rate"),
                   ("เอกสาร API", "API documentation"), ("เข้าสู่ระบบ", "Sign in")):
        assert th in text and en in text, (th, en)
    for href in ("/maps/?measure=target_poor_rate", "/maps/?measure=m0",
                 "/maps/?measure=excl_elderly_allowance", "/maps/?measure=excl_child_grant",
                 "/api/v1/docs", "/embed-code", "/login"):
        assert f'href="{href}"' in text, href
    # offline: every URL is on this server, assets under /assets/
    urls = re.findall(r'(?:href|src)="([^"]+)"', text)
    # (same-page anchors such as the site frame's skip link "#main" stay on the page)
    assert urls and all(u.startswith(("/", "#")) and not u.startswith("//") for u in urls), urls
    assert all(u.startswith("/assets/") for u in re.findall(r'<link[^>]+href="([^"]+)"', text))
    assert "http://" not in text and "https://" not in text


def test_page_follows_the_current_version(small_k):
    """Figures are cached per version: rolling back to the older round shows its figures."""
    app, _, ids = small_k
    settings = app.config["CHIPAO"]
    store = open_store(settings)
    assert ids[-1] in page(small_k)  # fills the cache for the newest version
    store.catalog.set_current("demo", ids[0])
    try:
        text = page(small_k)
        assert ids[0] in text and ids[-1] not in text
        old = store.read_areas("demo", "country", version=ids[0])
        public = suppress(old, min_households=int(settings["min_cell_households"]),
                          level="country").iloc[0]
        assert rows(text, "measure") == {m: [v] for m, v in expected_headline(public).items()}
    finally:
        store.catalog.set_current("demo", ids[-1])
    assert ids[-1] in page(small_k)
