// Drives the status pages in Debian's chromium with playwright-core, as a person would.
// Run by crates/http/tests/status_browser.rs:
//   node status_pages.mjs <base-url> <scenario.json> <screenshot-dir>
// The status token comes in the environment (CRMSYNC_BROWSER_STATUS_TOKEN), never on the command
// line; the browser is CRMSYNC_TEST_CHROMIUM. Prints one JSON line; exits non-zero on a failed check.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [base, scenarioFile, shots] = process.argv.slice(2);
const scenario = JSON.parse(fs.readFileSync(scenarioFile, 'utf8'));
const token = process.env.CRMSYNC_BROWSER_STATUS_TOKEN;
const executablePath = process.env.CRMSYNC_TEST_CHROMIUM || '/usr/bin/chromium';
if (!token) throw new Error('CRMSYNC_BROWSER_STATUS_TOKEN is not set');
fs.mkdirSync(shots, { recursive: true });

const checks = [];
function check(what, ok, detail = '') {
  checks.push({ what, ok: !!ok, detail: ok ? undefined : String(detail).slice(0, 2000) });
  if (!ok) throw new Error(`check failed: ${what}: ${String(detail).slice(0, 2000)}`);
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'crmsync-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
  viewport: { width: 1280, height: 900 },
  timezoneId: 'Europe/Berlin',
  locale: 'en-GB',
});
const visited = [];
let result;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15000);
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) visited.push(f.url()); });
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) external.push(r.url()); });
  const shot = async (name, p = page) => {
    const file = path.join(shots, `${name}.png`);
    await p.screenshot({ path: file, fullPage: true });
    return file;
  };

  // 1. Not signed in: the sign-in form.
  let resp = await page.goto(`${base}/status`);
  check('unauthenticated overview answers 401', resp.status() === 401, resp.status());
  check('sign-in form has a labelled token field', await page.getByLabel('Status token').count() === 1);
  await shot('sign-in');

  // 2. A wrong token is refused.
  await page.getByLabel('Status token').fill('not-the-token');
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
  check('wrong token refused', (await page.getByRole('alert').textContent()).includes('That token is not right'));
  const cookiesAfterWrong = await context.cookies();
  check('no cookie after a wrong token', !cookiesAfterWrong.some((c) => c.name === 'crmsync_status'), JSON.stringify(cookiesAfterWrong));
  await shot('sign-in-refused');

  // 3. Sign in.
  await page.getByLabel('Status token').fill(token);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
  check('signed in lands on the overview', new URL(page.url()).pathname === '/status', page.url());
  const cookie = (await context.cookies()).find((c) => c.name === 'crmsync_status');
  check('session cookie is HttpOnly and SameSite=Strict', cookie && cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
  check('cookie holds no token', cookie && !cookie.value.includes(token));
  check('overview heading', (await page.getByRole('heading', { level: 1 }).textContent()).includes('Monday → Salesforce'));
  check('overview has two charts', await page.locator('figure svg[role=img]').count() === 2);
  const firstTime = await page.locator('time[datetime]').first().textContent();
  check('times localised by the script', !firstTime.endsWith('UTC'), firstTime);
  await shot('overview');

  // 4. Search for the synced item and open it.
  await page.getByLabel(/Find an item/).fill(scenario.synced.search);
  await Promise.all([page.waitForNavigation(), page.getByLabel(/Find an item/).press('Enter')]);
  check('search page lists the item', await page.getByRole('link', { name: scenario.synced.name }).count() === 1, await page.content());
  check('search result says the item is in Salesforce', (await page.locator('table').textContent()).includes('In Salesforce'));
  await shot('search');
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: scenario.synced.name }).click()]);
  check('item page heading', (await page.getByRole('heading', { level: 1 }).textContent()) === scenario.synced.name);
  const sfHref = await page.locator('#salesforce-link').getAttribute('href');
  check('Salesforce Lightning link', sfHref === scenario.synced.lightning, `${sfHref} != ${scenario.synced.lightning}`);
  const history = await page.locator('ol.history > li').allTextContents();
  check('history shows the create copied to Salesforce', history.some((h) => h.includes('Item created') && h.includes('Copied to Salesforce')), history.join('\n'));
  await shot('item');
  // a smaller picture of the same page for the README (docs/status-item.jpg)
  await page.setViewportSize({ width: 1000, height: 800 });
  await page.screenshot({ path: path.join(shots, 'item-readme.jpg'), type: 'jpeg', quality: 80, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  // the same page on a phone
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(page.url());
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check('item page fits a phone (no sideways scrolling)', overflow <= 1, overflow);
  await shot('item-phone', phone);
  await phone.close();

  // 5. The dead-lettered item: the error and the advice.
  await page.goto(`${base}/status`);
  await page.getByLabel(/Find an item/).fill(scenario.dead.search);
  await Promise.all([page.waitForNavigation(), page.getByLabel(/Find an item/).press('Enter')]);
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: scenario.dead.name }).click()]);
  const dead = await page.locator('ol.history').textContent();
  check('dead letter shows the Salesforce error', dead.includes('INVALID_EMAIL_ADDRESS'), dead);
  check('dead letter shows what to do', (await page.locator('.advice').first().textContent()).includes('Correct the email'), dead);
  check('dead letter shows the replay command', dead.includes('crmsync dead-letters replay'), dead);
  await shot('dead-letter');

  // 6. The board page.
  await Promise.all([page.waitForNavigation(), page.getByRole('link', { name: scenario.dead.board }).first().click()]);
  check('board page heading', (await page.getByRole('heading', { level: 1 }).textContent()) === scenario.dead.board);
  check('board page lists the open problem', (await page.getByRole('heading', { name: /Open problems \(1\)/ }).count()) === 1);
  await shot('board');

  // 7. A page that does not exist, and odd search input.
  resp = await page.goto(`${base}/status/items/1/2`);
  check('unknown item answers 404', resp.status() === 404, resp.status());
  check('404 says why', (await page.locator('main').textContent()).includes('is not one crmsync syncs'));
  await shot('not-found');
  for (const odd of ['"\'<b>%_\\', '%FF%00', 'x'.repeat(3000)]) {
    resp = await page.goto(`${base}/status/search?q=${odd}`);
    check(`odd search ${odd.slice(0, 20)} is a normal page`, resp.status() === 200, resp.status());
  }

  // 8. Signing out ends the session.
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign out' }).click()]);
  resp = await page.goto(`${base}/status`);
  check('signed out: sign-in again', resp.status() === 401, resp.status());

  // 9. Without JavaScript: sign in with the form, read the item page (times stay in UTC).
  const itemUrl = scenario.synced.page;
  const plain = await chromium.launch({
    executablePath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const ctx = await plain.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    const p2 = await ctx.newPage();
    p2.on('framenavigated', (f) => { if (f === p2.mainFrame()) visited.push(f.url()); });
    resp = await p2.goto(`${base}${itemUrl}`);
    check('no-JS: item page asks to sign in', resp.status() === 401, resp.status());
    await p2.getByLabel('Status token').fill(token);
    await Promise.all([p2.waitForNavigation(), p2.getByRole('button', { name: 'Sign in' }).click()]);
    check('no-JS: signed in, back on the item page', new URL(p2.url()).pathname === itemUrl, p2.url());
    check('no-JS: item heading', (await p2.getByRole('heading', { level: 1 }).textContent()) === scenario.synced.name);
    const t = await p2.locator('time[datetime]').first().textContent();
    check('no-JS: times stay in UTC', t.endsWith('UTC'), t);
    await shot('item-no-javascript', p2);
  } finally {
    await plain.close();
  }

  check('the token never appeared in a URL', !visited.some((u) => u.includes(token)), visited.join('\n'));
  check('no request left the server', external.length === 0, external.join('\n'));
  result = { ok: true, checks: checks.length, screenshots: fs.readdirSync(shots).sort() };
} catch (e) {
  result = { ok: false, error: String(e && e.stack || e), checks };
  try { await context.pages()[0]?.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }); } catch {}
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
