"""service.api.params: the pages' form parsing, as plain functions of a mapping."""

from __future__ import annotations

import pytest

from service.api import params
from service.errors import InvalidInput


def test_weights_blank_is_default_and_bad_values_name_the_field():
    assert params.weights({"w_poor": "2", "w_m0": " ", "area": "TH58"}) == {"poor": 2.0}
    with pytest.raises(InvalidInput, match="column w_poor.*น้ำหนัก"):
        params.weights({"w_poor": "two"})
    with pytest.raises(InvalidInput, match="between 0 and 1000"):
        params.weights({"w_poor": "1001"})


def test_costs_accept_thousands_separators():
    assert params.costs({"cost_water": "1,500", "cost_x": ""}) == {"water": 1500.0}
    with pytest.raises(InvalidInput, match="column cost_water"):
        params.costs({"cost_water": "cheap"})


def test_budget_blank_is_none_and_range_is_checked():
    assert params.budget({}) is None
    assert params.budget({"budget": "2,000,000"}) == 2_000_000.0
    with pytest.raises(InvalidInput, match="column budget"):
        params.budget({"budget": "-1"})
    with pytest.raises(InvalidInput, match="ตัวเลข"):
        params.budget({"budget": "lots"})


def test_selection_form_is_none_until_the_budget_is_given():
    assert params.selection_province({}, default_area="TH") == "TH"
    assert params.selection_province({"province": "TH58010101"}, default_area="TH") == "TH58"
    # a bad cost is not an error while the form is not filled in (as before the move)
    assert params.SelectionParams.parse({"cost_water": "x"}, province="TH58") is None
    form = params.SelectionParams.parse({"budget": "100", "per_amphoe": "on",
                                         "objective": "gap"}, province="TH58")
    assert form == params.SelectionParams("TH58", 100.0, {}, "gap", True)


def test_list_params_check_the_area_and_word_the_filters():
    form = params.ListParams.parse({"area": "TH5801", "order": "poor", "dimension": ""},
                                   default_area="TH")
    assert (form.area, form.order, form.dimension) == ("TH5801", "poor", None)
    assert form.filters == "order=poor"
    with pytest.raises(InvalidInput, match="column area"):
        params.ListParams.parse({"area": "Bangkok"}, default_area="TH")


def test_province_defaults_and_refuses_other_levels():
    assert params.province({}, "TH58") == "TH58"
    assert params.province({"province": ""}, "TH58") is None
    with pytest.raises(InvalidInput, match="column province"):
        params.province({"province": "TH5801"}, None)


# -- the one rule for bad levels and codes (docs/CONTRACT.md §5) ------------------------------
def test_in_path_turns_the_vocabulary_422_into_404():
    from service import vocabulary
    from service.errors import NotFound

    assert params.in_path(vocabulary.check_level, "tambon") == "tambon"
    with pytest.raises(NotFound, match="nowhere"):
        params.in_path(vocabulary.check_level, "nowhere")
    with pytest.raises(InvalidInput):  # the same check outside a path keeps its 422
        vocabulary.check_level("nowhere")


def test_a_bad_level_or_code_in_an_api_path_is_404(client):
    for url in ("/api/v1/areas/nowhere", "/api/v1/areas/province/XX",
                "/api/v1/areas/village/TH58", "/api/v1/cells/zzz",
                "/api/v1/exports/areas/nowhere.csv"):
        resp = client.get(url)
        assert resp.status_code == 404, url
        assert resp.content_type == "application/problem+json", url


def test_a_bad_level_or_code_in_a_query_is_422_naming_the_field(client):
    resp = client.get("/api/v1/cells?resolution=8&parent=TH58")
    assert resp.status_code == 422  # was 404 before the rule: a query value
    assert "column parent" in resp.get_json()["detail"]
    resp = client.get("/api/v1/cells?resolution=12")
    assert resp.status_code == 422 and "column resolution" in resp.get_json()["detail"]
    for url in ("/maps/?level=nowhere", "/maps/area/XX"):  # a page's parameter or scope
        resp = client.get(url)
        assert resp.status_code == 422, url
        assert "column" in resp.get_json()["detail"] or "code" in resp.get_json()["detail"]


def test_whole_numbers_and_dataset_names():
    assert params.whole({}, "page", 1, lo=1, hi=10, message="m") == 1
    assert params.whole({"page": "7"}, "page", 1, lo=1, hi=10, message="m") == 7
    for bad in ("0", "11", "-1", "x", ""):
        with pytest.raises(InvalidInput, match="column page: bad page"):
            params.whole({"page": bad}, "page", 1, lo=1, hi=10, message="bad page")
    assert params.dataset_name({}) is None
    assert params.dataset_name({"dataset": "demo-2"}) == "demo-2"
    with pytest.raises(InvalidInput, match="column dataset"):
        params.dataset_name({"dataset": "Demo"})
