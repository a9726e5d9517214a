// jsforce (npm, v3) against the mock Salesforce of `mock-crm`, unchanged: jsforce obtains its
// token through its OWN login flow (OAuth 2.0 password grant via `conn.login`, client credentials
// via `conn.authorize`) at a custom `loginUrl`, then exercises CRUD, upsert, paged queries,
// sObject Collections and its own error handling. Prints one JSON object on stdout; the Rust test
// `mock-servers/mock-crm/tests/salesforce_jsforce.rs` asserts on it.
//
// Usage: node jsforce_client.mjs BASE_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD
import jsforce from 'jsforce';

const [base, clientId, clientSecret, username, password] = process.argv.slice(2);
if (!base || !clientId || !clientSecret || !username || !password) {
  console.error('usage: node jsforce_client.mjs BASE_URL CLIENT_ID CLIENT_SECRET USERNAME PASSWORD');
  process.exit(2);
}

const oauth2 = { loginUrl: base, clientId, clientSecret, redirectUri: `${base}/oauth/callback` };
const out = {};

/** The admin API of the mock (not part of Salesforce; used to expire sessions and read the journal). */
async function admin(method, path, body) {
  const res = await fetch(`${base}/__mock/${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** What jsforce raised: its class, name, errorCode and the Salesforce error's fields. */
function describeError(e) {
  return {
    class: e?.constructor?.name ?? null,
    name: e?.name ?? null,
    errorCode: e?.errorCode ?? null,
    message: e?.message ?? String(e),
    fields: e?.data?.fields ?? null,
  };
}

async function caught(promise) {
  try {
    const value = await promise;
    return { raised: false, value };
  } catch (e) {
    return { raised: true, ...describeError(e) };
  }
}

/** Journal entries (method + path) received since the journal was last cleared. */
async function journal() {
  const entries = await admin('GET', 'requests');
  return entries.map((e) => `${e.method} ${e.path} ${e.status}`);
}

// ---- token through jsforce's own login flows
const conn = new jsforce.Connection({ oauth2, loginUrl: base });
let refreshes = 0;
conn.on('refresh', () => {
  refreshes += 1;
});
const who = await conn.login(username, password);
out.login = {
  userId: who.id,
  organizationId: who.organizationId,
  instanceUrl: conn.instanceUrl,
  version: conn.version,
  hasAccessToken: typeof conn.accessToken === 'string' && conn.accessToken.length > 20,
};

const cc = new jsforce.Connection({ oauth2, loginUrl: base });
const ccWho = await cc.authorize({ grant_type: 'client_credentials' });
out.client_credentials = { userId: ccWho.id, instanceUrl: cc.instanceUrl };

const identity = await conn.identity();
out.identity = { username: identity.username, email: identity.email, user_id: identity.user_id };

// ---- CRUD
const Lead = conn.sobject('Lead');
const created = await Lead.create({
  FirstName: 'Amara',
  LastName: 'Mensah',
  Company: 'Riverside Literacy Project',
  Email: 'amara.mensah@riverside-literacy.org',
  Title: 'Volunteer Coordinator',
});
out.create = created;
const read = await Lead.retrieve(created.id);
out.read = { Id: read.Id, Name: read.Name, Title: read.Title, type: read.attributes?.type, Status: read.Status };
out.update = await Lead.update({ Id: created.id, Title: 'Program Director' });
out.read_after_update = (await Lead.retrieve(created.id)).Title;

// ---- upsert by external id: first creates, then updates
const extId = 'js-upsert-9001';
const first = await Lead.upsert(
  { Monday_Item_Id__c: extId, LastName: 'Okoye', Company: 'Northside Food Bank', Title: 'Volunteer' },
  'Monday_Item_Id__c',
);
const second = await Lead.upsert(
  { Monday_Item_Id__c: extId, LastName: 'Okoye', Company: 'Northside Food Bank', Title: 'Executive Director' },
  'Monday_Item_Id__c',
);
const upserted = await conn.query(
  `SELECT Id, Title, Monday_Item_Id__c FROM Lead WHERE Monday_Item_Id__c = '${extId}'`,
);
out.upsert = {
  first,
  second,
  matching: upserted.totalSize,
  title: upserted.records[0]?.Title ?? null,
  sameRecord: upserted.records[0]?.Id === first.id && first.id === second.id,
};

// ---- delete
out.delete = await Lead.destroy(created.id);
out.read_deleted = await caught(Lead.retrieve(created.id));

// ---- query across several pages
const soql = 'SELECT Id, Name, Company FROM Lead ORDER BY Id';
const pageOpts = { headers: { 'Sforce-Query-Options': 'batchSize=200' } };
// a) by hand: query, then queryMore on each nextRecordsUrl
let page = await conn.query(soql, pageOpts);
const manual = { totalSize: page.totalSize, pageSizes: [page.records.length], nextUrls: [] };
const ids = new Set(page.records.map((r) => r.Id));
while (!page.done) {
  manual.nextUrls.push(page.nextRecordsUrl);
  page = await conn.queryMore(page.nextRecordsUrl, pageOpts);
  manual.pageSizes.push(page.records.length);
  page.records.forEach((r) => ids.add(r.Id));
}
manual.distinctIds = ids.size;
out.query_manual = manual;
// b) autoFetch: jsforce follows nextRecordsUrl itself
await admin('DELETE', 'requests');
const fetched = await conn
  .query(soql, pageOpts)
  .autoFetch(true)
  .maxFetch(100000)
  .execute();
const queryRequests = (await journal()).filter((r) => r.includes('/query'));
out.query_autofetch = {
  totalSize: fetched.totalSize,
  records: fetched.records.length,
  distinctIds: new Set(fetched.records.map((r) => r.Id)).size,
  requests: queryRequests.length,
  followedNextRecordsUrl: queryRequests.slice(1).every((r) => /\/query\/[^/?]+-\d+$/.test(r.split(' ')[1])),
};
// c) queryAll (scanAll) sees the deleted lead
const all = await conn.query(`SELECT Id, IsDeleted FROM Lead WHERE Id = '${created.id}'`, { scanAll: true });
out.query_all_deleted = all.records.map((r) => r.IsDeleted);

// ---- sObject Collections (arrays go to /composite/sobjects)
const marker = 'jsforce collections test';
const partial = await Lead.create(
  [
    { LastName: 'Adeyemi', Company: marker },
    { FirstName: 'NoLastName', Company: marker },
    { LastName: 'Baptiste', Company: marker },
  ],
  { allOrNone: false },
);
out.collections = partial.map((r) => ({ success: r.success, codes: (r.errors ?? []).map((e) => e.statusCode ?? e.errorCode) }));
const rolledBack = await caught(
  Lead.create(
    [
      { LastName: 'Chukwu', Company: `${marker} (all or none)` },
      { FirstName: 'NoLastName', Company: `${marker} (all or none)` },
    ],
    { allOrNone: true },
  ),
);
out.collections_all_or_none = rolledBack.raised
  ? { raised: true, errorCode: rolledBack.errorCode }
  : {
      raised: false,
      results: rolledBack.value.map((r) => ({ success: r.success, codes: (r.errors ?? []).map((e) => e.statusCode ?? e.errorCode) })),
    };
out.collections_all_or_none_persisted = (
  await conn.query(`SELECT COUNT() FROM Lead WHERE Company = '${marker} (all or none)'`)
).totalSize;
const createdIds = partial.filter((r) => r.success).map((r) => r.id);
const updated = await Lead.update(createdIds.map((Id) => ({ Id, Title: 'Board Member' })), { allOrNone: true });
out.collections_update = updated.map((r) => r.success);
// retrieve([ids]) is sObject Collections retrieve: POST /composite/sobjects/Lead {ids, fields};
// without `fields` jsforce asks for every field of the describe. A deleted id answers null.
await admin('DELETE', 'requests');
const retrievedAll = await Lead.retrieve(createdIds);
const retrievedSome = await Lead.retrieve([createdIds[1], created.id, createdIds[0]], {
  fields: ['Id', 'LastName', 'Title'],
});
out.collections_retrieve = {
  ids: createdIds,
  allFields: retrievedAll.map((r) =>
    r === null ? null : { Id: r.Id, LastName: r.LastName, Title: r.Title, Company: r.Company, type: r.attributes?.type },
  ),
  someFields: retrievedSome.map((r) =>
    r === null ? null : { Id: r.Id, LastName: r.LastName, Title: r.Title, keys: Object.keys(r).sort() },
  ),
  requests: (await journal()).filter((r) => r.includes('/composite/sobjects/')),
};
const destroyed = await Lead.destroy(createdIds);
out.collections_delete = destroyed.map((r) => r.success);
out.collections_left = (await conn.query(`SELECT COUNT() FROM Lead WHERE Company = '${marker}'`)).totalSize;

// ---- jsforce's own errors
out.missing_required = await caught(Lead.create({ FirstName: 'Only', Email: 'only@example.org' }));
out.invalid_field = await caught(Lead.create({ LastName: 'X', Company: 'Y', Not_A_Field__c: 'z' }));
out.invalid_field_in_query = await caught(conn.query('SELECT Id, Not_A_Field__c FROM Lead'));

// ---- expired session
// a) the password-login connection: jsforce logs in again by itself and retries
await admin('DELETE', 'requests');
const before = conn.accessToken;
await admin('POST', 'sessions/expire');
const afterExpiry = await caught(Lead.retrieve(first.id));
const reLogin = await journal();
out.expired_password_connection = {
  raised: afterExpiry.raised,
  name: afterExpiry.value?.Name ?? null,
  refreshEvents: refreshes,
  newToken: conn.accessToken !== before,
  requests: reLogin,
};

// b) a connection holding only an access token: jsforce cannot refresh and raises
const expiredToken = conn.accessToken;
await admin('POST', 'sessions/expire');
const bare = new jsforce.Connection({ instanceUrl: conn.instanceUrl, accessToken: expiredToken });
out.expired_no_refresh = await caught(bare.sobject('Lead').retrieve(first.id));

// c) OAuth client info but no refresh token: jsforce tries to refresh and says why it cannot
const noToken = new jsforce.Connection({ oauth2, instanceUrl: conn.instanceUrl, accessToken: expiredToken });
out.expired_without_refresh_token = await caught(noToken.query('SELECT Id FROM Lead LIMIT 1'));

// d) a refresh token the server rejects: the token endpoint's error surfaces
const badRefresh = new jsforce.Connection({
  oauth2,
  instanceUrl: conn.instanceUrl,
  accessToken: expiredToken,
  refreshToken: 'not-a-valid-refresh-token',
});
out.expired_bad_refresh_token = await caught(badRefresh.query('SELECT Id FROM Lead LIMIT 1'));

// e) a valid refresh token: jsforce refreshes (refresh_token grant), retries and succeeds
const minted = await admin('POST', 'refresh-tokens');
const refreshToken = minted.refresh_token ?? minted.refreshToken ?? minted;
const withRefresh = new jsforce.Connection({
  oauth2,
  instanceUrl: conn.instanceUrl,
  accessToken: expiredToken,
  refreshToken,
});
let refreshedWith = null;
withRefresh.on('refresh', (accessToken) => {
  refreshedWith = accessToken;
});
await admin('DELETE', 'requests');
const recovered = await caught(withRefresh.query(`SELECT Id, Title FROM Lead WHERE Id = '${first.id}'`));
out.expired_with_refresh_token = {
  raised: recovered.raised,
  title: recovered.value?.records?.[0]?.Title ?? null,
  refreshed: refreshedWith !== null && refreshedWith !== expiredToken,
  requests: await journal(),
};

console.log(JSON.stringify(out));
