"""Production centers: SQL Server databases read with pyodbc (Microsoft ODBC Driver 18 by default).

The same code reads PostgreSQL through psqlODBC ("PostgreSQL Unicode"), which is how CI proves it:
SQL Server cannot run on CI machines, PostgreSQL can, and both answer the INFORMATION_SCHEMA query.

Security:
- Credentials come only from the environment variables the center's config names
  (source.user_env / source.password_env); the password is never logged, printed or put in an
  error message: `mask()` removes it from connection strings and driver messages.
- Encryption is on by default (`Encrypt=yes`); `TrustServerCertificate=yes` only when a center's
  config says so explicitly.
- Sessions are read-only: `ApplicationIntent=ReadOnly` for SQL Server, a read-only default
  transaction for PostgreSQL (enforced by the server), and `require_select` before every
  statement. Values are always bound parameters (`?` markers).

Error classes (what the parallel loader retries):
- transient (TransientSourceError): timeouts HYT00/HYT01 and PostgreSQL's statement timeout 57014,
  communication link failure 08S01 and 08007, deadlock/serialisation 40001/40P01, PostgreSQL's
  "too many connections" 53300, and SQL Server/Azure native errors 1205 (deadlock), 1222 (lock
  timeout), 40197/40501/40613/49918-49920 (service busy or failing over).
- terminal (SourceUnavailableError): everything else, notably 28000 login failed, IM002/IM003 driver
  missing, 42S02/42P01 missing object, and 08001 "cannot connect". 08001 is terminal by decision:
  it also means a bad password (psqlODBC) or a rejected certificate, which retrying cannot fix, and
  a server that is down for the night is better reported at once than retried for minutes; the
  next run's catch-up loads the days it missed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from extract.config import Center, SourceConfig
from extract.errors import ConfigError, IvorisError, SourceUnavailableError, TransientSourceError
from extract.log import log
from extract.sources.base import CatalogColumn, catalog_filter, require_select

# One query answered by SQL Server and PostgreSQL alike: unquoted upper-case names (PostgreSQL
# folds them to lower case; SQL Server finds them under a case-sensitive collation too). Both
# servers show only the current database here, and only objects the login may read.
# {tables}: catalog_filter() (the nightly check reads only the mapped tables), or nothing.
T_CATALOG = """
SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, ORDINAL_POSITION
FROM INFORMATION_SCHEMA.COLUMNS
WHERE TABLE_SCHEMA NOT IN ('sys', 'INFORMATION_SCHEMA', 'pg_catalog', 'information_schema'){tables}
ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION
"""
CATALOG_SQL = T_CATALOG.format(tables="")

TRANSIENT_SQLSTATES = frozenset({"HYT00", "HYT01", "08S01", "08007", "40001", "40P01", "57014", "53300"})
TRANSIENT_NATIVE_ERRORS = frozenset({1205, 1222, 40197, 40501, 40613, 49918, 49919, 49920})
# Keywords the builder owns; `options` may not redefine them (credentials are refused by config.py).
RESERVED_KEYWORDS = frozenset({"driver", "server", "port", "database", "uid", "pwd", "user", "password"})


def driver_family(driver: str) -> str:
    """'mssql' for Microsoft's drivers, 'postgres' for psqlODBC, 'other' for anything else."""
    name = driver.lower()
    if "sql server" in name:
        return "mssql"
    if "postgres" in name or "psqlodbc" in name:
        return "postgres"
    return "other"


def odbc_value(value: str) -> str:
    """Quote a connection-string value when it needs it: {...} with '}' doubled (ODBC rules)."""
    text = str(value)
    if text == "" or any(ch in text for ch in ";{}=") or text != text.strip():
        return "{" + text.replace("}", "}}") + "}"
    return text


_PWD_PATTERN = re.compile(r"(?i)\b(pwd|password)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)")


def mask(text: str, secrets: Sequence[str] = ()) -> str:
    """Remove passwords from a connection string or a driver message."""
    out = _PWD_PATTERN.sub(lambda m: f"{m.group(1)}=***", str(text))
    for secret in secrets:
        if secret and len(secret) >= 3:
            out = out.replace(secret, "***")
    return out


@dataclass(frozen=True)
class ConnectionSpec:
    """Everything pyodbc.connect needs. repr/str never show the password."""

    connection_string: str
    login_timeout_s: int
    query_timeout_s: int
    family: str
    description: str
    password: str = ""

    def __repr__(self) -> str:
        return (
            f"ConnectionSpec({self.description!r}, family={self.family!r}, "
            f"login_timeout_s={self.login_timeout_s}, "
            f"query_timeout_s={self.query_timeout_s}, connection_string={self.masked()!r})"
        )

    __str__ = __repr__

    def masked(self) -> str:
        return mask(self.connection_string, [self.password])


def source_description(source: SourceConfig, database: str | None = None) -> str:
    """server:port/database, for messages (never a secret)."""
    default_port = {"mssql": 1433, "postgres": 5432}.get(driver_family(source.driver))
    port = source.port or default_port
    return f"{source.server}{':' + str(port) if port else ''}/{database or source.database}"


def credentials(
    source: SourceConfig, center_id: str, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(user, password) from the environment variables the config names."""
    env = os.environ if environ is None else environ
    user, password = env.get(source.user_env, ""), env.get(source.password_env, "")
    if not user or not password:
        missing = [
            name for name, val in ((source.user_env, user), (source.password_env, password)) if not val
        ]
        raise SourceUnavailableError(
            f"credentials for {source_description(source)} are not set: export {' and '.join(missing)} "
            "(source.user_env / source.password_env name these variables)",
            center_id=center_id,
        )
    return user, password


# Authentication modes that need no password from the environment (Kerberos, managed identity).
PASSWORDLESS_AUTH = frozenset({"activedirectorymsi", "activedirectoryintegrated", "activedirectorydefault"})


def _uses_integrated_auth(options: Mapping[str, str]) -> bool:
    opts = {k.lower(): str(v).strip().lower() for k, v in options.items()}
    return opts.get("trusted_connection") == "yes" or opts.get("authentication") in PASSWORDLESS_AUTH


def build_connection(
    source: SourceConfig,
    center_id: str,
    environ: Mapping[str, str] | None = None,
    *,
    read_only: bool = True,
    database: str | None = None,
) -> ConnectionSpec:
    """The ODBC connection string for a center: pure (no I/O), so it is unit-tested.

    `read_only=False` and `database` are for the demo seeders only (CREATE DATABASE, INSERT).
    """
    family = driver_family(source.driver)
    db = database or source.database or ""
    pairs: list[tuple[str, str]] = [("Driver", "{" + source.driver.replace("}", "}}") + "}")]
    if family == "mssql":
        pairs.append(("Server", f"{source.server},{source.port}" if source.port else str(source.server)))
    else:
        pairs.append(("Server", str(source.server)))
        port = source.port or (5432 if family == "postgres" else None)
        if port:
            pairs.append(("Port", str(port)))
    pairs.append(("Database", db))

    password = ""
    if not _uses_integrated_auth(source.options):
        user, password = credentials(source, center_id, environ)
        pairs += [("UID", user), ("PWD", password)]

    if family == "mssql":
        pairs.append(("Encrypt", "yes" if source.encrypt else "no"))
        if source.trust_server_certificate:
            pairs.append(("TrustServerCertificate", "yes"))
        if read_only:
            pairs.append(("ApplicationIntent", "ReadOnly"))
    elif family == "postgres":
        # libpq sslmode: verify the certificate unless the center trusts it explicitly.
        if not source.encrypt:
            sslmode = "prefer"
        elif source.trust_server_certificate:
            sslmode = "require"
        else:
            sslmode = "verify-full"
        pairs.append(("SSLmode", sslmode))
        # BIT/boolean as booleans (psqlODBC defaults to '1'/'0' strings); cursor-based fetching so
        # a large result streams instead of being read into memory whole.
        pairs += [("BoolsAsChar", "0"), ("UseDeclareFetch", "1"), ("Fetch", "10000")]
        # psqlODBC ignores ODBC query timeouts: the server enforces them (and read-only) instead.
        settings = []
        if read_only:
            settings.append("SET default_transaction_read_only = on")
        if source.query_timeout_s:
            settings.append(f"SET statement_timeout = {int(source.query_timeout_s) * 1000}")
        if settings:
            pairs.append(("ConnSettings", "; ".join(settings)))

    builder_keys = {k.lower() for k, _ in pairs}
    for key, value in source.options.items():
        if key.lower() in RESERVED_KEYWORDS:
            raise ConfigError(
                f"source.options may not set {key!r}: use source.server/port/database, and "
                "source.user_env/password_env for credentials",
                center_id=center_id,
            )
        if key.lower() in builder_keys:  # an explicit option wins (e.g. Encrypt=strict)
            pairs = [(k, v) for k, v in pairs if k.lower() != key.lower()]
        pairs.append((key, value))

    text = ";".join(f"{k}={v if k == 'Driver' else odbc_value(v)}" for k, v in pairs) + ";"
    return ConnectionSpec(
        connection_string=text,
        login_timeout_s=int(source.login_timeout_s),
        query_timeout_s=int(source.query_timeout_s),
        family=family,
        description=source_description(source, db),
        password=password,
    )


def sqlstate_of(exc: BaseException) -> tuple[str, str]:
    """(SQLSTATE, message) of a pyodbc error (args = (sqlstate, message))."""
    args = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        return args[0], str(args[1])
    return "", " ".join(str(a) for a in args) or type(exc).__name__


def _native_errors(message: str) -> set[int]:
    # The drivers end a message with "(<native error>) (SQLExecDirectW)".
    return {int(n) for n in re.findall(r"\((\d+)\)\s*\(SQL\w+\)", message)}


def _first_line(message: str) -> str:
    # Drop the driver's "[Microsoft][ODBC Driver 18 for SQL Server][SQL Server]" prefix noise.
    line = message.strip().splitlines()[0] if message.strip() else ""
    return re.sub(r"^(\[[^\]]*\])+\s*", "", line).strip()


def classify(
    exc: BaseException, *, center_id: str, what: str, secrets: Sequence[str] = (), installed_drivers=None
) -> IvorisError:
    """Turn a driver error into TransientSourceError or SourceUnavailableError; messages are masked."""
    state, message = sqlstate_of(exc)
    detail = mask(f"[{state}] {_first_line(message)}" if state else _first_line(message), secrets)
    if state in TRANSIENT_SQLSTATES or _native_errors(message) & TRANSIENT_NATIVE_ERRORS:
        return TransientSourceError(
            f"{what} failed temporarily ({detail}); it is retried", center_id=center_id
        )
    if state == "28000":
        advice = "check the login and password in the environment variables the config names"
    elif state in ("IM002", "IM003"):
        drivers = ", ".join(installed_drivers or []) or "none"
        advice = f"install the ODBC driver named in source.driver or fix its name (installed: {drivers})"
    elif state in ("42S02", "42P01", "42S22", "42703"):
        advice = "the object is missing: run `ivoris discover` for this center and review the mapping"
    elif state in ("08001", "08004"):
        advice = (
            "check that the server is up and reachable, the port, the database name, "
            "the credentials and the TLS settings"
        )
    elif state == "42000" or state.startswith("42"):
        advice = "check the login's permissions (SELECT on the Ivoris schema) and the statement"
    else:
        advice = "see the driver message; fix the center's source settings or the server"
    return SourceUnavailableError(f"{what} failed ({detail}): {advice}", center_id=center_id)


_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\[(?:[^\]]|\]\])*\]")
_WRITE_WORDS = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|DROP|ALTER|CREATE|TRUNCATE|EXEC|EXECUTE|GRANT|REVOKE|DENY|INTO|DECLARE|"
    r"SET|USE|BACKUP|RESTORE|SHUTDOWN|KILL|DBCC|WAITFOR|OPENROWSET|OPENQUERY|OPENDATASOURCE|BULK|COPY|CALL)\b",
    re.I,
)


def require_read_only(sql: str, center_id: str) -> None:
    """base.require_select plus: one statement, and no write or side-effect keyword outside quotes.

    Defence in depth on top of the least-privilege login and the read-only session.
    """
    require_select(sql, center_id)
    bare = _QUOTED.sub(" ", sql)
    bad = _WRITE_WORDS.search(bare)
    if ";" in bare.rstrip().rstrip(";") or bad:
        found = bad.group(1).upper() if bad else "';' (several statements)"
        raise IvorisError(
            f"refusing to send a statement containing {found} to a center: only single SELECTs are sent",
            center_id=center_id,
        )


def _pyodbc():
    try:
        import pyodbc  # lazily: it needs the unixODBC library (Debian package unixodbc)
    except ImportError as exc:
        raise SourceUnavailableError(
            f"pyodbc cannot be loaded ({exc}): install unixODBC (`make system-deps`, Debian package unixodbc)"
        ) from exc
    return pyodbc


def connect(spec: ConnectionSpec, *, center_id: str, autocommit: bool = True):
    """Open a pyodbc connection; driver errors become IvorisError classes naming the center."""
    pyodbc = _pyodbc()
    try:
        con = pyodbc.connect(spec.connection_string, timeout=spec.login_timeout_s, autocommit=autocommit)
    except pyodbc.Error as exc:
        raise classify(
            exc,
            center_id=center_id,
            what=f"connecting to {spec.description}",
            secrets=[spec.password],
            installed_drivers=pyodbc.drivers(),
        ) from None  # the original may carry driver text with connection details
    if spec.family == "postgres":
        # psqlODBC's Unicode driver on unixODBC exchanges UTF-8 for narrow and wide text alike.
        con.setdecoding(pyodbc.SQL_CHAR, encoding="utf-8")
        con.setdecoding(pyodbc.SQL_WCHAR, encoding="utf-8")
        con.setencoding(encoding="utf-8")
    elif spec.query_timeout_s:
        con.timeout = spec.query_timeout_s  # ODBC query timeout for every statement (HYT00 when hit)
    return con


_FROM = re.compile(
    r"\bFROM\s+((?:\"[^\"]+\"|\[[^\]]+\]|[\w$]+)(?:\s*\.\s*(?:\"[^\"]+\"|\[[^\]]+\]|[\w$]+))*)", re.I
)


def statement_object(sql: str) -> str:
    """The first relation a SELECT reads, to name it in error messages."""
    m = _FROM.search(sql)
    return re.sub(r"\s*\.\s*", ".", m.group(1)) if m else "statement"


def _decimal_type(precision: Any, scale: Any) -> pa.DataType:
    if (
        isinstance(precision, int)
        and 0 < precision <= 38
        and isinstance(scale, int)
        and 0 <= scale <= precision
    ):
        return pa.decimal128(precision, scale)
    return pa.string()


def arrow_type(description_row: Sequence[Any]) -> pa.DataType:
    """Arrow type of a cursor.description row (name, type_code, display, internal, precision, scale, ...)."""
    type_code = description_row[1]
    if type_code is bool:
        return pa.bool_()
    if type_code is int:
        return pa.int64()
    if type_code is float:
        return pa.float64()
    if type_code is decimal.Decimal:
        return _decimal_type(description_row[4], description_row[5])
    if type_code is dt.datetime:
        return pa.timestamp("us")
    if type_code is dt.date:
        return pa.date32()
    if type_code is dt.time:
        return pa.time64("us")
    if type_code in (bytes, bytearray):
        return pa.binary()
    return pa.string()  # str, uuid.UUID and anything unusual (converted with str())


def _column(values: Sequence[Any], typ: pa.DataType) -> pa.Array:
    if pa.types.is_string(typ):
        values = [v if v is None or isinstance(v, str) else str(v) for v in values]
    elif pa.types.is_decimal(typ):
        values = [None if v is None else decimal.Decimal(v) for v in values]
    return pa.array(values, type=typ)


def rows_to_batch(rows: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.record_batch(
        [_column(col, f.type) for col, f in zip(columns, schema, strict=True)], schema=schema
    )


def schema_of(description: Sequence[Sequence[Any]]) -> pa.Schema:
    return pa.schema([pa.field(d[0], arrow_type(d), nullable=True) for d in description])


class MssqlSource:
    """A center reached over ODBC, read-only. Use as a context manager."""

    def __init__(self, center: Center, environ: Mapping[str, str] | None = None):
        self.center_id = center.id
        self._source = center.source
        self._spec = build_connection(center.source, center.id, environ)
        self._pyodbc = _pyodbc()
        self._con = connect(self._spec, center_id=center.id)
        log.debug("%s: connected to %s", center.id, self._spec.description)

    def __repr__(self) -> str:
        return f"MssqlSource({self.center_id!r}, {self._spec.description!r})"

    def _error(self, exc: BaseException, what: str) -> IvorisError:
        return classify(exc, center_id=self.center_id, what=what, secrets=[self._spec.password])

    def catalog(self, tables: Sequence[str] | None = None) -> list[CatalogColumn]:
        what = f"reading INFORMATION_SCHEMA.COLUMNS of {self._spec.description}"
        where, params = catalog_filter(tables)
        try:
            cur = self._con.cursor()
            try:
                rows = cur.execute(T_CATALOG.format(tables=where), params).fetchall()
            finally:
                cur.close()
        except self._pyodbc.Error as exc:
            raise self._error(exc, what) from None
        return [CatalogColumn(str(s), str(t), str(c), str(d), int(o)) for s, t, c, d, o in rows]

    def fetch_batches(
        self, sql: str, params: Sequence[Any], batch_rows: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        """Run one SELECT (`?` parameter markers) and stream it; an empty result yields one empty batch."""
        require_read_only(sql, self.center_id)
        what = f"reading {statement_object(sql)} from {self._spec.description}"
        try:
            cur = self._con.cursor()
        except self._pyodbc.Error as exc:
            raise self._error(exc, what) from None
        try:
            try:
                cur.execute(sql, list(params))
                schema = schema_of(cur.description)
                rows = cur.fetchmany(batch_rows)
            except self._pyodbc.Error as exc:
                raise self._error(exc, what) from None
            if not rows:
                yield rows_to_batch([], schema)
                return
            while rows:
                yield rows_to_batch(rows, schema)
                try:
                    rows = cur.fetchmany(batch_rows)
                except self._pyodbc.Error as exc:
                    raise self._error(exc, what) from None
        finally:
            try:
                cur.close()
            except self._pyodbc.Error:
                pass

    def close(self) -> None:
        try:
            self._con.close()
        except self._pyodbc.Error:  # already closed or the link dropped: nothing left to release
            pass

    def __enter__(self) -> MssqlSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(center: Center) -> MssqlSource:
    return MssqlSource(center)


__all__ = [
    "CATALOG_SQL",
    "ConnectionSpec",
    "MssqlSource",
    "arrow_type",
    "build_connection",
    "classify",
    "connect",
    "driver_family",
    "mask",
    "odbc_value",
    "open_source",
    "require_read_only",
]
