"""Regression: a partial cost list overrides only the items it names (API and CLI).

Before the fix, ``costs=ind22=30000`` (or ``chipao select --cost ind22=30000``) priced every
other deprivation at 0 THB, so villages came back far too cheap."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_rank_api import cli_env, store_app, token  # noqa: F401  (fixture)

from service.analysis.select import DEFAULT_COSTS, resolve_costs
from service.errors import InvalidInput


def test_resolve_costs_overrides_only_the_items_given():
    known = ["ind22", "ind8", "ind10"]
    out = resolve_costs({"ind22": 30_000, "10": 0}, known)
    assert out == {"ind22": 30_000.0, "ind8": DEFAULT_COSTS["ind8"], "ind10": 0.0}
    assert resolve_costs(None, known) == {k: DEFAULT_COSTS[k] for k in known}
    with pytest.raises(InvalidInput, match="ind99"):
        resolve_costs({"ind99": 1}, known)
    with pytest.raises(InvalidInput, match="ind8"):
        resolve_costs({"ind8": -1}, known)


def test_api_partial_costs_keep_the_other_defaults(store_app):  # noqa: F811
    client = store_app.test_client()
    nat = token(store_app, "national")
    url = "/api/v1/selection?province=TH50&budget=100000000"
    partial = client.get(url + "&costs=ind22=30000", headers=nat).get_json()
    full = client.get(url + f"&costs=ind22=30000,ind8={DEFAULT_COSTS['ind8']:.0f}",
                      headers=nat).get_json()
    assert partial["costs_thb_per_household"] == {"ind22": 30_000.0,
                                                  "ind8": DEFAULT_COSTS["ind8"]}
    assert partial["items"] == full["items"]
    assert partial["total_cost_thb"] == full["total_cost_thb"] > 0
    # a village with ind8-deprived households costs more than its ind22 part alone
    ind22_only = client.get(url + "&costs=ind22=30000,ind8=0", headers=nat).get_json()
    assert partial["total_cost_thb"] > ind22_only["total_cost_thb"]


def test_cli_partial_cost_keeps_the_other_defaults(store_app):  # noqa: F811
    from service.cli import main

    def run(*costs):
        args = ["select", "--province", "TH50", "--budget", "100000000", "--format", "json"]
        for c in costs:
            args += ["--cost", c]
        res = CliRunner().invoke(main, args, env=cli_env(store_app))
        assert res.exit_code == 0, res.output
        return json.loads(res.output)

    partial = run("ind22=30000")
    full = run("ind22=30000", f"ind8={DEFAULT_COSTS['ind8']:.0f}")
    assert partial["total_cost_thb"] == full["total_cost_thb"]
    assert [i["cost_thb"] for i in partial["items"]] == [i["cost_thb"] for i in full["items"]]
    assert partial["total_cost_thb"] > run("ind22=30000", "ind8=0")["total_cost_thb"]
