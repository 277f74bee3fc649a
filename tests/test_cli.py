"""The command line end to end, on SQLite and PostgreSQL: users, ledger, audit verify."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from vigil.cli import main
from vigil.db.engine import create_engine


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {"VIGIL_DATA_DIR": str(tmp_path / "var"), "VIGIL_DATABASE__URL": db_url}


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)
    return result.exit_code, result.output


def execute(db_url: str, sql: str) -> None:
    async def go() -> None:
        engine = create_engine(db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(go())


def make_audit_records(env: dict[str, str]) -> None:
    for name in ("alice", "bob", "carol", "dave"):
        code, output = run(env, "user", "add", name, "--role", "viewer", stdin="long-pass-123\n")
        assert code == 0, output


def test_version_prints_the_version(cli_env: dict[str, str]) -> None:
    code, output = run(cli_env, "version")
    assert code == 0
    assert output.strip() == "0.1.0"


def test_user_add_list_and_passwd(cli_env: dict[str, str]) -> None:
    code, output = run(
        cli_env, "user", "add", "op", "--role", "operator", "--region", "3402",
        stdin="long-pass-123\n",
    )  # fmt: skip
    assert code == 0, output
    code, output = run(cli_env, "user", "list")
    assert "op\toperator\t3402" in output
    code, output = run(cli_env, "user", "passwd", "op", stdin="other-pass-456\n")
    assert code == 0, output
    code, output = run(cli_env, "user", "passwd", "ghost", stdin="other-pass-456\n")
    assert code != 0
    assert "no user ghost" in output


def test_audit_verify_passes_on_an_untouched_chain(cli_env: dict[str, str]) -> None:
    make_audit_records(cli_env)
    code, output = run(cli_env, "audit", "verify")
    assert code == 0, output
    assert "intact: 4 records" in output


def test_audit_verify_detects_an_edited_record(cli_env: dict[str, str], db_url: str) -> None:
    make_audit_records(cli_env)
    execute(db_url, "UPDATE audit_log SET target = 'mallory' WHERE id = 2")
    code, output = run(cli_env, "audit", "verify")
    assert code == 1
    assert "record 2" in output
    assert "BROKEN" in output


def test_audit_verify_detects_a_deleted_record(cli_env: dict[str, str], db_url: str) -> None:
    make_audit_records(cli_env)
    execute(db_url, "DELETE FROM audit_log WHERE id = 3")
    code, output = run(cli_env, "audit", "verify")
    assert code == 1
    assert "record 3" in output or "record 4" in output


def test_audit_verify_detects_a_deleted_last_record(cli_env: dict[str, str], db_url: str) -> None:
    make_audit_records(cli_env)
    execute(db_url, "DELETE FROM audit_log WHERE id = 4")
    code, output = run(cli_env, "audit", "verify")
    assert code == 1
    assert "BROKEN" in output


def test_ledger_import_and_export_round_trip(cli_env: dict[str, str], tmp_path: Path) -> None:
    regions = tmp_path / "regions.csv"
    regions.write_text("code,name\n3402,芜湖市\n340202,镜湖区\n", encoding="utf-8")
    code, output = run(cli_env, "region", "import", str(regions))
    assert code == 0, output
    ledger = tmp_path / "ledger.csv"
    ledger.write_bytes(
        "编码,名称,行政区划,点位类别\n34020200001310000001,萳溪路口,340202,1\n".encode("gb18030")
    )
    code, output = run(cli_env, "ledger", "import", str(ledger))
    assert code == 0, output
    out = tmp_path / "out.xlsx"
    code, output = run(cli_env, "ledger", "export", str(out))
    assert code == 0, output
    code, output = run(cli_env, "ledger", "import", str(out), "--dry-run")
    assert code == 0, output


def test_ledger_import_with_a_bad_row_reports_it_and_imports_nothing(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("id,name,region_code,point_class\nABC,bad,34,1\n", encoding="utf-8")
    code, output = run(cli_env, "ledger", "import", str(ledger))
    assert code != 0
    assert "row 2, column id" in output
    assert "nothing was imported" in output
