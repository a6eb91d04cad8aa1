"""SOQL parser / evaluator table tests, and query + queryAll + paging over HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from local.sf_emulator import soql
from local.sf_emulator.errors import SalesforceError
from local.sf_emulator.schema import build_schemas

pytestmark = pytest.mark.emulator

SCHEMAS = build_schemas()
NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)


def _row(**fields):
    base = dict.fromkeys(SCHEMAS["account"].field_names())
    base.update(IsDeleted=False, **fields)
    return base


ROWS = [
    _row(
        Id="001Hb0000000001IAA",
        Name="Acme",
        Industry="Retail",
        AnnualRevenue=100.0,
        NumberOfEmployees=5,
        SystemModstamp=datetime(2024, 3, 15, 9, 0, tzinfo=UTC),
        CreatedDate=datetime(2024, 3, 15, 9, 0, tzinfo=UTC),
    ),
    _row(
        Id="001Hb0000000002IAA",
        Name="beta o'brien",
        Industry="Banking",
        AnnualRevenue=None,
        NumberOfEmployees=50,
        SystemModstamp=datetime(2024, 3, 14, 9, 0, tzinfo=UTC),
        CreatedDate=datetime(2024, 3, 1, tzinfo=UTC),
    ),
    _row(
        Id="001Hb0000000003IAA",
        Name="Gamma 100%",
        Industry=None,
        AnnualRevenue=5000.5,
        NumberOfEmployees=None,
        SystemModstamp=datetime(2024, 1, 31, 10, 0, 1, tzinfo=UTC),
        CreatedDate=datetime(2023, 12, 1, tzinfo=UTC),
    ),
]


def run(where: str, order: str = "ORDER BY Id") -> list[str]:
    query = soql.resolve(soql.parse(f"SELECT Id FROM Account {where} {order}"), SCHEMAS)
    return [r["Name"] for r in soql.execute(query, ROWS, NOW)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("", ["Acme", "beta o'brien", "Gamma 100%"]),
        ("WHERE Name = 'acme'", ["Acme"]),
        ("WHERE Name != 'Acme'", ["beta o'brien", "Gamma 100%"]),
        ("WHERE Name <> 'Acme'", ["beta o'brien", "Gamma 100%"]),
        ("WHERE Name = 'beta o\\'brien'", ["beta o'brien"]),
        ("WHERE Name LIKE 'a%'", ["Acme"]),
        ("WHERE Name LIKE '_eta%'", ["beta o'brien"]),
        ("WHERE Name LIKE '%100\\%'", ["Gamma 100%"]),
        ("WHERE Industry = null", ["Gamma 100%"]),
        ("WHERE Industry != null", ["Acme", "beta o'brien"]),
        ("WHERE Industry != 'Retail'", ["beta o'brien", "Gamma 100%"]),
        ("WHERE Industry IN ('Retail', 'Banking')", ["Acme", "beta o'brien"]),
        ("WHERE Industry NOT IN ('Retail')", ["beta o'brien", "Gamma 100%"]),
        ("WHERE AnnualRevenue > 100", ["Gamma 100%"]),
        ("WHERE AnnualRevenue >= 100", ["Acme", "Gamma 100%"]),
        ("WHERE AnnualRevenue < 1000", ["Acme"]),
        ("WHERE NumberOfEmployees <= 5", ["Acme"]),
        ("WHERE NumberOfEmployees > -1.5", ["Acme", "beta o'brien"]),
        ("WHERE NOT Industry = 'Retail'", ["beta o'brien", "Gamma 100%"]),
        ("WHERE (Industry = 'Retail' OR Industry = 'Banking') AND NumberOfEmployees > 10", ["beta o'brien"]),
        ("WHERE Industry = 'Retail' OR (Industry = 'Banking' AND NumberOfEmployees > 10)", ["Acme", "beta o'brien"]),
        (
            "WHERE Industry = 'Retail' OR Industry = 'Banking' OR Industry = null",
            ["Acme", "beta o'brien", "Gamma 100%"],
        ),
        ("WHERE AnnualRevenue > 0 AND (NOT Industry = 'Retail')", ["Gamma 100%"]),
        ("WHERE IsDeleted = false", ["Acme", "beta o'brien", "Gamma 100%"]),
        ("WHERE SystemModstamp > 2024-01-31T10:00:00Z", ["Acme", "beta o'brien", "Gamma 100%"]),
        ("WHERE SystemModstamp > 2024-01-31T10:00:01Z", ["Acme", "beta o'brien"]),
        ("WHERE SystemModstamp >= 2024-01-31T11:00:01+01:00", ["Acme", "beta o'brien", "Gamma 100%"]),
        ("WHERE SystemModstamp > 2024-01-31T11:00:01+01:00", ["Acme", "beta o'brien"]),
        ("WHERE SystemModstamp < 2024-03-14T09:00:00.000Z", ["Gamma 100%"]),
        ("WHERE CreatedDate = TODAY", ["Acme"]),
        ("WHERE CreatedDate = LAST_N_DAYS:14", ["Acme", "beta o'brien"]),
        ("WHERE CreatedDate < THIS_MONTH", ["Gamma 100%"]),
        ("WHERE CreatedDate = LAST_YEAR", ["Gamma 100%"]),
        ("WHERE SystemModstamp = YESTERDAY", ["beta o'brien"]),
        ("WHERE Id = '001Hb0000000001'", ["Acme"]),
        ("WHERE Id IN ('001Hb0000000001IAA', '001Hb0000000003IAA')", ["Acme", "Gamma 100%"]),
    ],
)
def test_where(where, expected):
    assert run(where) == expected


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("ORDER BY Name", ["Acme", "beta o'brien", "Gamma 100%"]),
        ("ORDER BY Name DESC", ["Gamma 100%", "beta o'brien", "Acme"]),
        ("ORDER BY Industry", ["Gamma 100%", "beta o'brien", "Acme"]),  # ASC: nulls first
        ("ORDER BY Industry DESC", ["Acme", "beta o'brien", "Gamma 100%"]),  # DESC: nulls last
        ("ORDER BY Industry ASC NULLS LAST", ["beta o'brien", "Acme", "Gamma 100%"]),
        ("ORDER BY AnnualRevenue DESC NULLS FIRST", ["beta o'brien", "Gamma 100%", "Acme"]),
        ("ORDER BY SystemModstamp DESC, Name LIMIT 2", ["Acme", "beta o'brien"]),
        ("ORDER BY Name LIMIT 1 OFFSET 1", ["beta o'brien"]),
    ],
)
def test_order_limit_offset(order, expected):
    assert run("", order) == expected


@pytest.mark.parametrize(
    ("query", "code", "fragment"),
    [
        ("SELECT Id, Foo__c FROM Account", "INVALID_FIELD", "No such column 'Foo__c' on entity 'Account'"),
        ("SELECT Id FROM Acount", "INVALID_TYPE", "sObject type 'Acount' is not supported."),
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY", "unexpected token: <EOF>"),
        (
            "SELECT Id FROM Account WHERE Name = 5",
            "MALFORMED_QUERY",
            "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes",
        ),
        (
            "SELECT Id FROM Account WHERE CreatedDate > '2024-01-01'",
            "MALFORMED_QUERY",
            "must be of type dateTime and should not be enclosed in quotes",
        ),
        ("SELECT Id FROM Account WHERE CreatedDate > 2024-01-01", "MALFORMED_QUERY", "must be of type dateTime"),
        ("SELECT Id FROM Account WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: abc"),
        ("SELECT Id FROM Account LIMIT x", "MALFORMED_QUERY", "unexpected token: 'x'"),
        ("SELECT Id FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"),
        ("SELECT Id Name FROM Account", "MALFORMED_QUERY", "unexpected token: 'Name'"),
        ("SELECT Account.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Account'"),
        # SOQL and SOSL Reference, "Logical Operators" (sforce_api_calls_soql_select_logicaloperators):
        # "Parentheses are required whenever you mix the operators." AND does not bind tighter than OR.
        (
            "SELECT Id FROM Account WHERE Industry = 'Retail' OR Industry = 'Banking' AND NumberOfEmployees > 10",
            "MALFORMED_QUERY",
            "unexpected token: 'AND'",
        ),
        (
            "SELECT Id FROM Account WHERE Industry = 'Retail' AND NumberOfEmployees > 10 OR Industry = 'Banking'",
            "MALFORMED_QUERY",
            "unexpected token: 'OR'",
        ),
    ],
)
def test_errors(query, code, fragment):
    with pytest.raises(SalesforceError) as caught:
        soql.resolve(soql.parse(query), SCHEMAS)
    assert caught.value.code == code
    assert fragment in caught.value.message
    assert caught.value.message.startswith("\n") and "ERROR at Row:1:Column:" in caught.value.message


def test_error_position_points_at_the_token():
    with pytest.raises(SalesforceError) as caught:
        soql.resolve(soql.parse("SELECT Id, Foo FROM Account"), SCHEMAS)
    assert caught.value.message.split("\n")[1:4] == [
        "SELECT Id, Foo FROM Account",
        "           ^",
        "ERROR at Row:1:Column:12",
    ]


def test_date_fields_compare_with_date_literals():
    schemas = SCHEMAS
    rows = [dict.fromkeys(schemas["opportunity"].field_names()) | {"Name": "o", "CloseDate": date(2024, 1, 31)}]
    for where, hit in (
        ("CloseDate = 2024-01-31", True),
        ("CloseDate > 2024-01-31", False),
        ("CloseDate < TODAY", True),
        ("CloseDate = THIS_YEAR", True),
    ):
        query = soql.resolve(soql.parse(f"SELECT Id FROM Opportunity WHERE {where}"), schemas)
        assert bool(soql.execute(query, rows, NOW)) is hit, where


def test_query_http_count_and_query_all(http, data_url, emu):
    ids = emu.seed("Account", [{"Name": f"Acc {i}"} for i in range(3)])
    http.delete(f"{data_url}/sobjects/Account/{ids[0]}")
    live = http.get(f"{data_url}/query", params={"q": "SELECT Id, Name, IsDeleted FROM Account"}).json()
    assert live["totalSize"] == 2 and live["done"] is True and "nextRecordsUrl" not in live
    assert all(r["IsDeleted"] is False for r in live["records"])
    everything = http.get(f"{data_url}/queryAll", params={"q": "SELECT Id, IsDeleted FROM Account"}).json()
    assert everything["totalSize"] == 3
    assert [r["IsDeleted"] for r in everything["records"] if r["Id"] == ids[0]] == [True]
    count = http.get(f"{data_url}/query", params={"q": "SELECT COUNT() FROM Account"}).json()
    assert count == {"totalSize": 2, "done": True, "records": []}
    bad = http.get(f"{data_url}/query", params={"q": "SELECT Nope FROM Account"})
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"
    assert set(bad.json()[0]) == {"message", "errorCode"}


def test_paging_default_and_batch_size_header(http, data_url, emu):
    emu.configure(query_page_size_varies=False)  # pages of exactly the batch size, to count them
    emu.seed("Contact", [{"LastName": f"C{i:04d}"} for i in range(2450)])
    first = http.get(f"{data_url}/query", params={"q": "SELECT Id, LastName FROM Contact ORDER BY LastName"}).json()
    assert first["totalSize"] == 2450 and first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v60.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000")
    second = http.get(f"{emu.url}{first['nextRecordsUrl']}").json()
    assert second["done"] is True and len(second["records"]) == 450 and "nextRecordsUrl" not in second
    assert second["records"][-1]["LastName"] == "C2449"

    small = http.get(
        f"{data_url}/queryAll", params={"q": "SELECT Id FROM Contact"}, headers={"Sforce-Query-Options": "batchSize=50"}
    ).json()
    assert len(small["records"]) == 200  # Salesforce's minimum batch size is 200
    more = http.get(f"{emu.url}{small['nextRecordsUrl'].replace('/query/', '/queryAll/')}").json()
    assert len(more["records"]) == 200

    bogus = http.get(f"{data_url}/query/01gHb0000000999AAA-2000")
    assert bogus.status_code == 400 and bogus.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
