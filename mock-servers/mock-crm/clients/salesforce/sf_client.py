"""Drives the mock Salesforce with simple-salesforce (a widely used third-party client).

Usage: python sf_client.py BASE_URL CA_CERT CLIENT_ID CLIENT_SECRET
Prints one JSON object with what each step observed; the Rust test asserts on it.
"""
import json
import sys

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

base, ca_cert, client_id, client_secret = sys.argv[1:5]
out = {}

session = requests.Session()
session.verify = ca_cert
session.trust_env = False  # REQUESTS_CA_BUNDLE or proxy variables must not override the mock's CA

# OAuth 2.0 client credentials (simple-salesforce's own login helper only knows *.salesforce.com hosts,
# so the token comes from the same requests session the client then uses).
resp = session.post(f"{base}/services/oauth2/token", data={
    "grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})
token = resp.json()
out["token"] = {"status": resp.status_code, "token_type": token.get("token_type"),
                "instance_url": token.get("instance_url"), "has_access_token": bool(token.get("access_token"))}

sf = Salesforce(instance_url=token["instance_url"], session_id=token["access_token"], session=session, version="66.0")

created = sf.Lead.create({"FirstName": "Amara", "LastName": "Mensah", "Company": "Beacon Youth Alliance",
                          "Email": "amara.mensah@beacon.example.org", "Sector__c": "Nonprofit"})
out["create"] = created
lead_id = created["id"]
got = sf.Lead.get(lead_id)
out["read"] = {"Id": got["Id"], "Name": got["Name"], "type": got["attributes"]["type"]}
out["update_status"] = sf.Lead.update(lead_id, {"Title": "Program Director"})
out["read_after_update"] = sf.Lead.get(lead_id)["Title"]
out["upsert_new_status"] = sf.Lead.upsert("Monday_Item_Id__c/9378000505-42",
                                          {"LastName": "Rossi", "Company": "Cedar Arts Center"})
out["upsert_existing_status"] = sf.Lead.upsert("Monday_Item_Id__c/9378000505-42", {"Title": "Executive Director"})
out["upsert_read"] = sf.Lead.get_by_custom_id("Monday_Item_Id__c", "9378000505-42")["Title"]
out["delete_status"] = sf.Lead.delete(lead_id)
try:
    sf.Lead.get(lead_id)
    out["read_deleted"] = "no exception"
except SalesforceResourceNotFound as e:
    out["read_deleted"] = type(e).__name__

# Query more than two pages (batchSize=200 over the seeded leads).
headers = {"Sforce-Query-Options": "batchSize=200"}
page = sf.query("SELECT Id, Name, Company FROM Lead ORDER BY Id", headers=headers)
pages, total_seen, total_size = 1, len(page["records"]), page["totalSize"]
while not page["done"]:
    page = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True, headers=headers)
    pages += 1
    total_seen += len(page["records"])
out["query"] = {"pages": pages, "records": total_seen, "totalSize": total_size}
out["query_all_records"] = len(sf.query_all("SELECT Id FROM Lead")["records"])

# sObject Collections.
results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": [
    {"attributes": {"type": "Account"}, "Name": "Harbor Housing Coalition"},
    {"attributes": {"type": "Contact"}, "FirstName": "No", "Email": "no.lastname@example.org"},
]})
out["collections"] = [{"success": r["success"], "codes": [e["statusCode"] for e in r["errors"]]} for r in results]
rolled = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
    {"attributes": {"type": "Account"}, "Name": "Rolled back"},
    {"attributes": {"type": "Account"}, "Phone": "555"},
]})
out["collections_all_or_none"] = [[e["statusCode"] for e in r["errors"]] for r in rolled]

# Bulk API 2.0 query through the client's bulk2 handler.
csv_pages = sf.bulk2.Program__c.query("SELECT Id, Name FROM Program__c", max_records=5, wait=0)
out["bulk2_rows"] = sum(max(len(p.strip().splitlines()) - 1, 0) for p in csv_pages)

# More than one match -> the client's own exception.
sf.Contact.create({"LastName": "Twin", "Email": "twin@example.org"})
sf.Contact.create({"LastName": "Twin", "Email": "twin@example.org"})
try:
    sf.Contact.upsert("Email/twin@example.org", {"Title": "x"})
    out["multiple"] = "no exception"
except SalesforceMoreThanOneRecord as e:
    out["multiple"] = type(e).__name__

# The client's exception types for errors.
try:
    sf.Lead.create({"FirstName": "Missing"})
    out["missing_required"] = "no exception"
except SalesforceMalformedRequest as e:
    out["missing_required"] = {"exception": type(e).__name__, "errorCode": e.content[0]["errorCode"],
                               "fields": e.content[0].get("fields")}
try:
    sf.Lead.create({"LastName": "X", "Company": "Y", "Bogus__c": 1})
    out["invalid_field"] = "no exception"
except SalesforceMalformedRequest as e:
    out["invalid_field"] = {"exception": type(e).__name__, "errorCode": e.content[0]["errorCode"]}

session.post(f"{base}/__mock/sessions/expire")
try:
    sf.query("SELECT Id FROM Lead LIMIT 1")
    out["expired_session"] = "no exception"
except SalesforceExpiredSession as e:
    out["expired_session"] = {"exception": type(e).__name__, "errorCode": e.content[0]["errorCode"]}

print(json.dumps(out))
