"""Small hand-made map fixtures: two rounds of synthetic §3 tables for two provinces."""

from __future__ import annotations

from service.render import synthetic
from service.render.sources import FrameSource
from service.settings import REPO_ROOT

BDIR = str(REPO_ROOT / "boundaries")
PROVINCES = ("TH10", "TH50")  # Bangkok, Chiang Mai
DATASET = "demo"


def frame_source(*, rounds: int = 2) -> FrameSource:
    src = FrameSource()
    for r in range(rounds):
        version = f"v{r + 1}"
        for level in ("province", "amphoe", "tambon"):
            provinces = None if level == "province" else PROVINCES
            src.add(DATASET, version, level, synthetic.admin_areas(
                BDIR, level, provinces=provinces, seed=r, small_every=7))
        src.add(DATASET, version, "h3_r7",
                synthetic.h3_areas(BDIR, 7, provinces=("TH10",), seed=r))
        src.add(DATASET, version, "h3_r6",
                synthetic.h3_areas(BDIR, 6, provinces=PROVINCES, seed=r))
        src.add(DATASET, version, "village",
                synthetic.village_areas(BDIR, ["TH500101", "TH500102"], seed=r))
    return src
