// Drives the mock Monday server with the official client (@mondaydotcomorg/api), exactly as an
// integration would drive api.monday.com. Prints one JSON summary line on stdout; the Rust test
// mock-servers/mock-crm/tests/monday_client.rs asserts on it.
//
// Env: MONDAY_API_URL (http://127.0.0.1:PORT/v2), MONDAY_TOKEN, MOCK_ADMIN_URL (http://127.0.0.1:PORT).
import monday from '@mondaydotcomorg/api';

const { ApiClient, ClientError } = monday;

const endpoint = process.env.MONDAY_API_URL;
const token = process.env.MONDAY_TOKEN;
const admin = process.env.MOCK_ADMIN_URL;
if (!endpoint || !token || !admin) {
  console.error('MONDAY_API_URL, MONDAY_TOKEN and MOCK_ADMIN_URL are required');
  process.exit(2);
}

const client = new ApiClient({ token, apiVersion: '2026-10', endpoint });
const LEADS = '9378000505';
const ACCOUNTS = '9378000326';
const out = {};

async function adminPost(path, body, method = 'POST') {
  const r = await fetch(admin + path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

function describeError(e) {
  if (e instanceof ClientError) {
    const first = (e.response.errors || [])[0] || {};
    return {
      kind: 'ClientError',
      status: e.response.status,
      code: first.extensions && first.extensions.code,
      retry_in_seconds: first.extensions && first.extensions.retry_in_seconds,
      message: first.message,
    };
  }
  return { kind: e.constructor.name, message: String(e && e.message) };
}

// 1. The SDK's own typed operations.
const me = await client.operations.getMeOp();
out.me = me.me;
const groups = await client.operations.getBoardGroupsOp({ ids: [LEADS] });
out.lead_groups = groups.boards[0].groups.map((g) => g.id);

// 2. Boards and columns.
const boards = await client.request(
  `query ($ids: [ID!]) { boards(ids: $ids) { id name columns { id title type settings_str } } }`,
  { ids: [LEADS, ACCOUNTS, '9429890440', '9378000036'] },
);
out.boards = boards.boards.map((b) => ({ id: b.id, name: b.name, columns: b.columns.length }));
const leadColumns = boards.boards[0].columns;
out.lead_column_types = [...new Set(leadColumns.map((c) => c.type))].sort();
const statusSettings = JSON.parse(leadColumns.find((c) => c.id === 'color_mksj2adq').settings_str);
out.status_labels = statusSettings.labels;

// 3. Create items with a value of every column type.
const accountId = (await client.request(`query { boards(ids: [${ACCOUNTS}]) { items_page(limit: 1) { items { id } } } }`))
  .boards[0].items_page.items[0].id;
const values = {
  text_mkry13cw: 'Grace',
  long_text_mksfhq35: { text: 'Board turnover is high.' },
  numeric_mkt1e5c2: '125',
  color_mksj2adq: { label: 'Working - Contacted' },
  dropdown_mkt48t9a: { labels: ['Education', 'Housing'] },
  date_mkt1f0l1: { date: '2026-04-15', time: '10:30:00' },
  email_mksx3vtp: { email: 'grace@example.org', text: 'Grace H.' },
  phone_mkt1q2w3: { phone: '14155550100', countryShortName: 'US' },
  link_mkt1r8s2: { url: 'https://example.org/grace', text: 'Profile' },
  check_mkt1x9k4: { checked: 'true' },
  country_mkt1c0un: { countryCode: 'US', countryName: 'United States' },
  person: { personsAndTeams: [{ id: 58200003, kind: 'person' }] },
  board_relation_mks9cjfs: { item_ids: [Number(accountId)] },
  timerange_mkt1t1m3: { from: '2026-05-01', to: '2026-06-30' },
  rating_mkt1r4t5: { rating: 4 },
};
const created = await client.request(
  `mutation ($board: ID!, $name: String!, $values: JSON) {
     create_item(board_id: $board, item_name: $name, column_values: $values) {
       id name column_values { id type text value ... on BoardRelationValue { linked_item_ids } }
     }
   }`,
  { board: LEADS, name: 'Hopper Foundation', values: JSON.stringify(values) },
);
const item = created.create_item;
out.created = {
  id: item.id,
  name: item.name,
  text: Object.fromEntries(item.column_values.filter((c) => c.id in values).map((c) => [c.id, c.text])),
  value: Object.fromEntries(item.column_values.filter((c) => c.id in values).map((c) => [c.id, c.value])),
  linked: item.column_values.find((c) => c.id === 'board_relation_mks9cjfs').linked_item_ids,
};
// The SDK's createItemOp too.
const sdkItem = await client.operations.createItemOp({ boardId: LEADS, groupId: 'topics', itemName: 'Created by createItemOp' });
out.sdk_created = sdkItem.create_item.name;

// 4. Change values three ways (and rename through the name column).
const changed = await client.operations.changeMultipleColumnValuesOp({
  boardId: LEADS,
  itemId: item.id,
  columnValues: JSON.stringify({ name: 'Hopper Foundation (renamed)', color_mksj2adq: { index: 3 }, numeric_mkt1e5c2: '130.5' }),
});
out.changed_name = changed.change_multiple_column_values.name;
await client.operations.changeColumnValueOp({
  boardId: LEADS,
  itemId: item.id,
  columnId: 'dropdown_mkt48t9a',
  value: JSON.stringify({ ids: [1] }),
});
await client.operations.changeSimpleColumnValueOp({ boardId: LEADS, itemId: item.id, columnId: 'text_mkryhch5', value: '00Q5e00000ABCDEFGH' });
const after = await client.request(
  `query ($ids: [ID!]) { items(ids: $ids) { name column_values(ids: ["color_mksj2adq", "numeric_mkt1e5c2", "dropdown_mkt48t9a", "text_mkryhch5"]) { id text } } }`,
  { ids: [item.id] },
);
out.after = Object.fromEntries(after.items[0].column_values.map((c) => [c.id, c.text]));

// A bad value as the client reports it.
try {
  await client.operations.changeColumnValueOp({ boardId: LEADS, itemId: item.id, columnId: 'color_mksj2adq', value: JSON.stringify({ label: 'No such label' }) });
  out.bad_value = null;
} catch (e) {
  out.bad_value = describeError(e);
}

// 5. Page through items_page over more than two pages.
let page = (await client.request(
  `query { boards(ids: [${LEADS}]) { items_page(limit: 20) { cursor items { id } } } }`,
)).boards[0].items_page;
const seen = page.items.map((i) => i.id);
let pages = 1;
while (page.cursor) {
  page = (await client.request(`query ($c: String!) { next_items_page(cursor: $c, limit: 20) { cursor items { id } } }`, { c: page.cursor })).next_items_page;
  seen.push(...page.items.map((i) => i.id));
  pages += 1;
}
out.pages = pages;
out.items_seen = seen.length;
out.items_unique = new Set(seen).size;

// 6. The complexity budget, exhausted: once as HTTP 429, once inside HTTP 200.
out.budget_errors = [];
await adminPost('/__mock/budget', { remaining: 0 });
try {
  await client.operations.getMeOp();
  out.budget_errors.push(null);
} catch (e) {
  out.budget_errors.push(describeError(e));
}
await adminPost('/__mock/faults', { budget_error_mode: '200' }, 'PUT');
try {
  await client.request(`query { complexity { before after } boards(limit: 1) { id } }`);
  out.budget_errors.push(null);
} catch (e) {
  out.budget_errors.push(describeError(e));
}

console.log(JSON.stringify(out));
