"""extract/sources/mssql.py without a server: connection strings, masking, error classes, SELECT-only."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pytest

from extract.config import SourceConfig, parse_settings
from extract.errors import ConfigError, IvorisError, SourceUnavailableError, TransientSourceError
from extract.sources import mssql

PASSWORD = "S3cr;et}pw{x"  # ODBC special characters: must be brace-quoted and still masked
ENV = {"IVORIS_MSSQL_USER": "ivoris_reader", "IVORIS_MSSQL_PASSWORD": PASSWORD}


def _keywords(conn: str) -> dict[str, str]:
    """Parse an ODBC connection string (brace-quoted values, '}}' escapes) into {lower key: value}."""
    out, i = {}, 0
    while i < len(conn):
        eq = conn.index("=", i)
        key = conn[i:eq].strip().lower()
        j = eq + 1
        if conn[j] == "{":
            j += 1
            value = ""
            while True:
                if conn[j] == "}":
                    if conn[j + 1 : j + 2] == "}":
                        value += "}"
                        j += 2
                        continue
                    j += 1
                    break
                value += conn[j]
                j += 1
        else:
            end = conn.find(";", j)
            end = len(conn) if end < 0 else end
            value, j = conn[j:end], end
        assert key not in out, f"{key} appears twice"
        out[key] = value
        i = j + 1 if j < len(conn) and conn[j] == ";" else j
    return out


def _src(**kw) -> SourceConfig:
    base = dict(type="mssql", server="sql-ber.example.internal", port=1433, database="DentalDB_31")
    base.update(kw)
    return SourceConfig(**base)


def test_defaults_encrypt_readonly_and_timeouts():
    spec = mssql.build_connection(_src(), "center_31", ENV)
    kw = _keywords(spec.connection_string)
    assert kw["driver"] == "ODBC Driver 18 for SQL Server"
    assert kw["server"] == "sql-ber.example.internal,1433"
    assert kw["database"] == "DentalDB_31"
    assert kw["encrypt"] == "yes"
    assert "trustservercertificate" not in kw
    assert kw["applicationintent"] == "ReadOnly"
    assert kw["uid"] == "ivoris_reader" and kw["pwd"] == PASSWORD  # round-trips through brace quoting
    assert (spec.login_timeout_s, spec.query_timeout_s) == (15, 600)
    assert spec.family == "mssql"


def test_trust_certificate_only_when_configured_and_encrypt_off():
    kw = _keywords(mssql.build_connection(_src(trust_server_certificate=True), "c", ENV).connection_string)
    assert kw["trustservercertificate"] == "yes" and kw["encrypt"] == "yes"
    kw = _keywords(mssql.build_connection(_src(encrypt=False), "c", ENV).connection_string)
    assert kw["encrypt"] == "no" and "trustservercertificate" not in kw


def test_timeouts_from_config():
    spec = mssql.build_connection(_src(login_timeout_s=7, query_timeout_s=42), "c", ENV)
    assert (spec.login_timeout_s, spec.query_timeout_s) == (7, 42)


def test_writer_connection_has_no_readonly_intent():
    kw = _keywords(
        mssql.build_connection(_src(), "c", ENV, read_only=False, database="master").connection_string
    )
    assert "applicationintent" not in kw and kw["database"] == "master"


def test_options_add_and_override_but_not_credentials():
    spec = mssql.build_connection(
        _src(options={"Encrypt": "strict", "HostNameInCertificate": "*.corp"}), "c", ENV
    )
    kw = _keywords(spec.connection_string)
    assert kw["encrypt"] == "strict" and kw["hostnameincertificate"] == "*.corp"
    for key in ("PWD", "Server", "uid", "Driver"):
        with pytest.raises(ConfigError, match="may not set"):
            mssql.build_connection(_src(options={key: "x"}), "c", ENV)


def test_integrated_auth_needs_no_password_env():
    kw = _keywords(
        mssql.build_connection(
            _src(options={"Authentication": "ActiveDirectoryMsi"}), "c", {}
        ).connection_string
    )
    assert "pwd" not in kw and kw["authentication"] == "ActiveDirectoryMsi"
    with pytest.raises(SourceUnavailableError):  # password-based Entra ID logins still need the variables
        mssql.build_connection(_src(options={"Authentication": "ActiveDirectoryPassword"}), "c", {})
    spec = mssql.build_connection(_src(options={"Trusted_Connection": "yes"}), "c", {})
    kw = _keywords(spec.connection_string)
    assert "uid" not in kw and "pwd" not in kw and kw["trusted_connection"] == "yes"


def test_missing_credentials_name_the_variables_not_values():
    with pytest.raises(SourceUnavailableError) as err:
        mssql.build_connection(_src(user_env="MY_USER", password_env="MY_PW"), "center_31", {"MY_USER": "u"})
    text = str(err.value)
    assert "MY_PW" in text and "center_31" in text and "sql-ber.example.internal" in text


def test_postgres_driver_gets_psqlodbc_keywords_only():
    src = _src(driver="PostgreSQL Unicode", port=54329, encrypt=False, query_timeout_s=30)
    kw = _keywords(mssql.build_connection(src, "c", ENV).connection_string)
    assert kw["server"] == "sql-ber.example.internal" and kw["port"] == "54329"
    assert "encrypt" not in kw and "applicationintent" not in kw and "trustservercertificate" not in kw
    assert kw["sslmode"] == "prefer" and kw["boolsaschar"] == "0"
    assert "default_transaction_read_only = on" in kw["connsettings"]
    assert "statement_timeout = 30000" in kw["connsettings"]
    # TLS mapping: verify the certificate unless trusted explicitly
    assert (
        _keywords(mssql.build_connection(_src(driver="PostgreSQL Unicode"), "c", ENV).connection_string)[
            "sslmode"
        ]
        == "verify-full"
    )
    assert (
        _keywords(
            mssql.build_connection(
                _src(driver="PostgreSQL Unicode", trust_server_certificate=True), "c", ENV
            ).connection_string
        )["sslmode"]
        == "require"
    )
    writer = _keywords(mssql.build_connection(src, "c", ENV, read_only=False).connection_string)
    assert "read_only" not in writer["connsettings"]


def test_password_masked_in_repr_str_and_masked():
    spec = mssql.build_connection(_src(), "c", ENV)
    for text in (repr(spec), str(spec), spec.masked(), f"{spec}"):
        assert PASSWORD not in text and "S3cr" not in text
        assert "PWD=***" in text or "connection_string" not in text
    assert "DentalDB_31" in repr(spec)


@pytest.mark.parametrize(
    "conn",
    [
        "Driver={x};PWD=plain;Server=s",
        "Driver={x};pwd={with;semi}}colon};Server=s",
        "PASSWORD = spaced ;UID=u",
    ],
)
def test_mask_removes_any_password_form(conn):
    masked = mssql.mask(conn)
    assert "plain" not in masked and "semi" not in masked and "spaced" not in masked
    assert "***" in masked


class FakeOdbcError(Exception):
    """Shaped like pyodbc.Error: args = (sqlstate, message)."""


def _classify(state: str, message: str, **kw) -> IvorisError:
    return mssql.classify(
        FakeOdbcError(state, message),
        center_id="center_07",
        what="reading ck.KARTEI_X1",
        secrets=[PASSWORD],
        **kw,
    )


@pytest.mark.parametrize(
    "state,message",
    [
        ("HYT00", "[Microsoft][ODBC Driver 18 for SQL Server]Query timeout expired (0) (SQLExecDirectW)"),
        ("HYT01", "[Microsoft][ODBC Driver 18 for SQL Server]Login timeout expired (0) (SQLDriverConnect)"),
        (
            "08S01",
            "[Microsoft][ODBC Driver 18 for SQL Server]TCP Provider: Error code 0x68 (104) (SQLExecDirectW)",
        ),
        (
            "40001",
            "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Transaction (Process ID 52) "
            "was deadlocked on lock resources with another process and has been chosen as the deadlock "
            "victim. (1205) "
            "(SQLExecDirectW)",
        ),
        ("40P01", "ERROR: deadlock detected"),
        ("57014", "ERROR: canceling statement due to statement timeout;"),
        (
            "42000",
            "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Database 'x' is not currently "
            "available. (40613) (SQLDriverConnect)",
        ),
        (
            "HY000",
            "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Lock request time out period exceeded. "
            "(1222) (SQLExecDirectW)",
        ),
    ],
)
def test_transient_errors(state, message):
    err = _classify(state, message)
    assert isinstance(err, TransientSourceError) and err.transient
    assert "center_07" in str(err) and "ck.KARTEI_X1" in str(err) and "retried" in str(err)


@pytest.mark.parametrize(
    "state,message,advice",
    [
        (
            "28000",
            "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Login failed for user 'ivoris_reader'. "
            "(18456) (SQLDriverConnect)",
            "login and password",
        ),
        (
            "42S02",
            "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]Invalid object name 'ck.KARTEI_X1'. (208) "
            "(SQLExecDirectW)",
            "ivoris discover",
        ),
        ("42P01", 'ERROR: relation "ck.KARTEI_X1" does not exist;', "ivoris discover"),
        (
            "08001",
            "[Microsoft][ODBC Driver 18 for SQL Server]TCP Provider: Error code 0x2749 (10057) "
            "(SQLDriverConnect)",
            "reachable",
        ),
        (
            "08001",
            "[Microsoft][ODBC Driver 18 for SQL Server]SSL Provider: certificate verify failed (-1) "
            "(SQLDriverConnect)",
            "TLS",
        ),
        (
            "IM002",
            "[unixODBC][Driver Manager]Data source name not found and no default driver specified (0) "
            "(SQLDriverConnect)",
            "ODBC Driver 18",
        ),
    ],
)
def test_terminal_errors(state, message, advice):
    err = _classify(state, message, installed_drivers=["ODBC Driver 18 for SQL Server"])
    assert isinstance(err, SourceUnavailableError) and not err.transient
    assert "center_07" in str(err) and "ck.KARTEI_X1" in str(err) and advice in str(err)
    assert f"[{state}]" in str(err)
    assert "[Microsoft]" not in str(err)  # driver prefix noise removed


def test_error_messages_never_contain_the_password():
    leaky = f"[08001] connect failed for DRIVER={{x}};UID=u;PWD={{{PASSWORD.replace('}', '}}')}}};Server=s"
    for state in ("08001", "HYT00", "28000", ""):
        text = str(_classify(state, leaky + " " + PASSWORD))
        assert PASSWORD not in text and "S3cr" not in text


def test_not_a_pyodbc_error_is_terminal():
    err = mssql.classify(RuntimeError("boom"), center_id="c", what="x")
    assert isinstance(err, SourceUnavailableError) and "boom" in str(err)


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM ck.KARTEI",
        "UPDATE x SET y = 1",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "SELECT 1; DROP TABLE x",
        "SELECT * INTO copy FROM ck.KARTEI",
        "EXEC sp_who",
        "  insert into t values (1)",
        "SELECT 1 WAITFOR DELAY '00:10'",
        "",
    ],
)
def test_non_select_refused(sql):
    with pytest.raises(IvorisError, match="refusing"):
        mssql.require_read_only(sql, "center_01")


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT "ID", "DELETE_FLAG", "INTO" FROM "ck"."KARTEI_MN" WHERE "DATUM_3A4" BETWEEN ? AND ?',
        "SELECT [Set], [Update] FROM [ck].[x] WHERE [a]]b] = 'DROP; TABLE'",
        "WITH k AS (SELECT 1 AS x) SELECT x FROM k;",
    ],
)
def test_selects_pass(sql):
    mssql.require_read_only(sql, "center_01")


def test_fetch_refuses_before_touching_the_connection():
    class Boom:
        def cursor(self):
            raise AssertionError("a refused statement must not reach the connection")

    src = object.__new__(mssql.MssqlSource)
    src.center_id, src._con = "center_01", Boom()
    with pytest.raises(IvorisError, match="refusing"):
        next(src.fetch_batches("DELETE FROM ck.KARTEI", []))


def test_statement_object_names_the_table():
    assert mssql.statement_object('SELECT "A" FROM "ck"."KARTEI_MN" WHERE 1 = 1') == '"ck"."KARTEI_MN"'
    assert mssql.statement_object("SELECT a FROM [dbo].[x y]") == "[dbo].[x y]"


def test_odbc_value_quoting():
    assert mssql.odbc_value("plain") == "plain"
    assert mssql.odbc_value("a;b") == "{a;b}"
    assert mssql.odbc_value("a}b") == "{a}}b}"
    assert mssql.odbc_value(" lead") == "{ lead}"


def test_driver_family():
    assert mssql.driver_family("ODBC Driver 18 for SQL Server") == "mssql"
    assert mssql.driver_family("FreeTDS") == "other"
    assert mssql.driver_family("PostgreSQL Unicode") == "postgres"


def test_arrow_batches_from_rows():
    description = [
        ("id", int, None, 10, 10, 0, True),
        ("txt", str, None, 0, 0, 0, True),
        ("flag", bool, None, 1, 1, 0, True),
        ("d", dt.date, None, 10, 10, 0, True),
        ("ts", dt.datetime, None, 23, 23, 3, True),
        ("amount", decimal.Decimal, None, 10, 10, 2, True),
        ("blob", bytes, None, 4, 4, 0, True),
    ]
    schema = mssql.schema_of(description)
    assert schema.types == [
        pa.int64(),
        pa.string(),
        pa.bool_(),
        pa.date32(),
        pa.timestamp("us"),
        pa.decimal128(10, 2),
        pa.binary(),
    ]
    rows = [
        (
            1,
            "Zeile\n'ä' 😀",
            True,
            dt.date(2024, 1, 2),
            dt.datetime(2024, 1, 2, 23, 59, 59),
            decimal.Decimal("1.50"),
            b"\x00\x01",
        ),
        (None, None, None, None, None, None, None),
    ]
    batch = mssql.rows_to_batch(rows, schema)
    assert batch.num_rows == 2 and batch.to_pylist()[0]["txt"] == "Zeile\n'ä' 😀"
    assert batch.column(0).null_count == 1
    empty = mssql.rows_to_batch([], schema)
    assert empty.num_rows == 0 and empty.schema == schema


def test_config_switch_is_config_only(tmp_path: Path):
    """A center moves from DuckDB to SQL Server by editing its source block only."""
    settings = parse_settings(
        {
            "centers": [
                {
                    "id": "center_31",
                    "name": "Berlin",
                    "source": {
                        "type": "mssql",
                        "server": "sql-ber.example.internal",
                        "port": 1433,
                        "database": "DentalDB_31",
                    },
                }
            ]
        },
        tmp_path / "centers.yml",
    )
    spec = mssql.build_connection(settings.centers[0].source, "center_31", ENV)
    assert "DentalDB_31" in spec.connection_string and spec.family == "mssql"


def test_open_without_credentials_fails_before_connecting(monkeypatch):
    monkeypatch.delenv("IVORIS_MSSQL_USER", raising=False)
    monkeypatch.delenv("IVORIS_MSSQL_PASSWORD", raising=False)
    settings = parse_settings(
        {"centers": [{"id": "center_31", "source": {"type": "mssql", "server": "s", "database": "d"}}]},
        Path("centers.yml"),
    )
    with pytest.raises(SourceUnavailableError, match="IVORIS_MSSQL_USER"):
        mssql.open_source(settings.centers[0])


REPO = Path(__file__).resolve().parents[1]


def test_centers_mssql_config_matches_the_demo_seeder():
    """config/mssql/centers.yml is what `ivoris demo --target mssql` points centers at."""
    import yaml

    from extract.config import load_settings
    from extract.demo.reference import DEFAULT_CENTERS
    from extract.demo.sql_writers import MSSQL_DEFAULTS, database_name

    settings = load_settings(REPO / "config" / "mssql" / "centers.yml")
    assert [c.id for c in settings.centers] == [cid for cid, _, _ in DEFAULT_CENTERS]
    for center in settings.centers:
        src = center.source
        assert (src.type, src.server, src.port, src.database) == (
            "mssql",
            "localhost",
            MSSQL_DEFAULTS["port"],
            database_name(center.id),
        )
        assert src.driver == "ODBC Driver 18 for SQL Server" and src.encrypt is True
        assert src.trust_server_certificate is True  # self-signed docker certificate, commented in the file
        assert (src.user_env, src.password_env) == ("IVORIS_MSSQL_USER", "IVORIS_MSSQL_PASSWORD")
    text = (REPO / "config" / "mssql" / "centers.yml").read_text()
    assert "password:" not in text.lower().replace("password_env:", "")
    assert yaml.safe_load(text)["centers"][0]["source"]["database"] == "DentalDB_01"


def test_docker_compose_pins_sql_server_and_commits_no_secret():
    import yaml

    doc = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    svc = doc["services"]["mssql"]
    image = svc["image"]
    assert image.startswith("mcr.microsoft.com/mssql/server:2022-CU") and "latest" not in image
    env = svc["environment"]
    assert env["ACCEPT_EULA"] == "Y"
    assert env["MSSQL_SA_PASSWORD"].startswith("${MSSQL_SA_PASSWORD:?")  # required, no default
    assert svc["ports"] == ["127.0.0.1:14333:1433"]
    assert any(v.endswith(":/var/opt/mssql") for v in svc["volumes"]) and "mssql-data" in doc["volumes"]
    test = " ".join(svc["healthcheck"]["test"])
    assert "sqlcmd -C" in test and "$$MSSQL_SA_PASSWORD" in test
