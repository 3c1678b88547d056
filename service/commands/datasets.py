"""`chipao datasets`: list datasets and versions, compare rounds, roll back."""

from __future__ import annotations

import json

import click

from service.settings import settings_from_env
from service.vocabulary import LEVELS

LEVEL_CHOICES = LEVELS


def _store():
    from service.store import open_store

    return open_store(settings_from_env())


@click.group("datasets", invoke_without_command=True)
@click.pass_context
def command(ctx: click.Context) -> None:
    """Datasets and their versions (survey rounds) / ชุดข้อมูลและรุ่นข้อมูล.

    Without a subcommand: the same as `chipao datasets list` (as README.md documents)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_)


@command.command("list")
@click.option("--dataset", default=None, help="Only this dataset.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(dataset: str | None, as_json: bool) -> None:
    """List versions, newest first; * marks the current one, + the released one of each
    other round (what the public sees); unmarked versions are superseded."""
    store = _store()
    names = [dataset] if dataset else store.datasets()
    out = {}
    for name in names:
        released = {v.id for v in store.versions(name)}
        out[name] = [{**v.to_dict(), "released": v.id in released}
                     for v in store.versions(name, superseded=True)]
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not names:
        click.echo("no datasets yet / ยังไม่มีชุดข้อมูล: run chipao aggregate or chipao demo")
    for name, versions in out.items():
        click.echo(f"{name}")
        for v in versions:
            mark = "*" if v["current"] else "+" if v["released"] else " "
            n_persons = f"{v['n_persons']:,}" if v["n_persons"] is not None else "-"
            click.echo(f" {mark} {v['id']:<34} round {v['round']:<6} {n_persons:>12} persons  "
                       f"{v['created_at'][:19]}")


@command.command("compare")
@click.option("--dataset", required=True)
@click.option("--old", "old", default=None, help="Earlier version id (default: the one "
              "before the current).")
@click.option("--new", "new", default=None, help="Later version id (default: current).")
@click.option("--level", type=click.Choice(LEVEL_CHOICES), default="province",
              show_default=True)
@click.option("--province", default=None, help="Only areas of this province (e.g. TH75).")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write CSV (UTF-8 with BOM, opens in Excel) instead of printing.")
def compare(dataset: str, old: str | None, new: str | None, level: str,
            province: str | None, output: str | None) -> None:
    """Change between two rounds per area: m0, poor, target poor, coverage."""
    from service.usecases.datasets import compare_rounds

    diff, old, new = compare_rounds(_store(), dataset, old, new, level, province=province)
    if output:
        diff.to_csv(output, index=False, encoding="utf-8-sig")
        click.echo(f"{len(diff):,} areas written to {output}")
        return
    cols = ["code", "name_en", "n_poor_old", "n_poor_new", "d_n_poor", "d_n_target_poor",
            "d_m0"]
    cols += [c for c in diff.columns if c.startswith("d_cov_")]
    click.echo(f"{dataset}: {old} -> {new} ({level})")
    click.echo(diff[[c for c in cols if c in diff]].to_string(index=False, max_rows=60,
                                                               float_format="{:.4f}".format))


@command.command("use")
@click.option("--dataset", required=True)
@click.argument("version")
def use(dataset: str, version: str) -> None:
    """Make an earlier version current again (roll back): it becomes the released version
    of its round, which the public, maps, embeds, API and exports then use."""
    store = _store()
    store.catalog.set_current(dataset, version)
    click.echo(f"{dataset}: current version is now {version} "
               f"/ รุ่นข้อมูลปัจจุบันคือ {version}")


@command.command("audit")
@click.option("--dataset", required=True)
@click.option("--version", "version", default=None, help="Version id (default: current).")
def audit(dataset: str, version: str | None) -> None:
    """Check what the public would see: no area or difference reveals 1-9 households.

    ตรวจว่าข้อมูลสาธารณะไม่เปิดเผยพื้นที่ที่มีครัวเรือนน้อยกว่าเกณฑ์ ทั้งโดยตรงและโดยการลบยอด
    """
    from service.usecases.disclosure_audit import audit_version

    problems = audit_version(_store(), settings_from_env(), dataset, version, echo=click.echo)
    if problems:
        raise click.ClickException(f"{problems} disclosure problem(s) / พบปัญหา {problems} รายการ")
    click.echo("passed / ผ่าน")
