"""A real two-round store for the workspace pages: demo persons of two Mae Hong Son amphoes
(TH5802 Khun Yuam, TH5807 Pang Mapha; about 28 k people a round) through the pipeline, with
a national, a Mae Hong Son and a Chiang Mai account."""

from __future__ import annotations

from pathlib import Path

AMPHOES = ("TH5802", "TH5807")
ROUNDS = ((2561, 2561), (2566, 2566))  # (round, generator seed)
PASSWORD = "correct horse battery"
ACCOUNTS = {"nat": ("national", None), "mhs": ("provincial", "TH58"),
            "cm": ("provincial", "TH50")}


def build_pages_app(tmp: Path, **overrides):
    """(app, {account: bearer token}, [version ids, oldest first])."""
    from service import create_app
    from service.api.auth import user_store
    from service.demo.generate import generate
    from service.pipeline import build_version

    app = create_app({"testing": True, "secret_key": "pages", "pseudonym_key": "k",
                      "rate_limit": "", "data_dir": str(tmp / "var"), **overrides})
    ids = []
    for rnd, seed in ROUNDS:
        out = tmp / f"persons-{rnd}"
        generate(None, seed=seed, out=out, amphoes=list(AMPHOES))
        v = build_version(app.config["CHIPAO"], dataset="demo", round=rnd, progress=False,
                          persons_dir=out)
        ids.append(v.id)
    users = user_store(app)
    tokens = {}
    for name, (role, prov) in ACCOUNTS.items():
        users.create_user(name, PASSWORD, role, prov)
        tokens[name] = users.create_token(name)[0]
    return app, tokens, ids


def count_calls(monkeypatch, module, name, what=None):
    """Replace ``module.name`` by a wrapper that records each call (``what(*args)``, or 1)
    in the returned list, then calls the real function."""
    calls: list = []
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(1 if what is None else what(*args))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls
