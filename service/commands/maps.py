"""`chipao maps`: the on-disk map artefacts of a version (service.render.artefacts)."""

from __future__ import annotations

import click


@click.group("maps")
def command() -> None:
    """Map artefacts kept across restarts / ข้อมูลแผนที่ที่คำนวณไว้ล่วงหน้า."""


@command.command("warm")
@click.option("--dataset", default=None, help="Dataset (default: setting default_dataset).")
@click.option("--version", "version", default=None,
              help="Version id (default: the dataset's current version).")
@click.option("--province", "provinces", multiple=True,
              help="Only these provinces' maps (repeatable; default: every province).")
@click.option("--prune", is_flag=True,
              help="Also remove artefacts of other code and of versions no longer stored.")
def warm(dataset: str | None, version: str | None, provinces: tuple[str, ...],
         prune: bool) -> None:
    """Build the public suppression decisions and first-open maps of a version, so that
    the first map after a restart is as fast as a warm one (skips what is built)
    / คำนวณการปกปิดข้อมูลและแผนที่เริ่มต้นของรุ่นข้อมูลไว้ล่วงหน้า"""
    from service.services import Services
    from service.settings import settings_from_env
    from service.usecases import map_warmup

    s = Services.create(settings_from_env())
    took = map_warmup.build(s, dataset=dataset, version=version,
                            provinces=list(provinces) or None,
                            progress=lambda name, t: click.echo(f"  {name}: {t:.1f} s"))
    click.echo(f"สร้างข้อมูลแผนที่ {len(took)} รายการใน {sum(took.values()):.0f} วินาที · "
               f"built {len(took)} map artefacts in {sum(took.values()):.0f} s "
               f"({s.artefacts.directory})")
    if prune:
        keep = {d: {v.id for v in s.store.versions(d, superseded=True)}
                for d in _datasets(s)}
        removed = s.artefacts.prune(keep)
        click.echo(f"ลบ {len(removed)} โฟลเดอร์ · removed {len(removed)} old folders")


def _datasets(s) -> list[str]:
    names = getattr(s.store, "datasets", None)
    return list(names()) if callable(names) else [s.settings.default_dataset]
