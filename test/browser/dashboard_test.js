// The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven by
// puppeteer-core against a real haid that dashboard_browser_test.cc started. Exits non-zero
// on the first failed check; screenshots go to $HAI_ARTIFACTS.
//
// Env (from the launcher): HAI_DASH_URL, HAI_ALICE_TOKEN, HAI_BOB_TOKEN, HAI_ADMIN_TOKEN,
// HAI_LOW_CHAIN (alice's LOW task, running on every GPU, named with markup, logging
// "<script>"), HAI_SUBMIT_HIGH (a shell command that submits bob's HIGH task and prints
// its JSON), HAI_CLI_ADMIN (a shell command prefix running hai-cli as the admin),
// HAI_ARTIFACTS, CHROMIUM (default /usr/bin/chromium).
'use strict';
const { execSync } = require('node:child_process');
const path = require('node:path');
const puppeteer = require('puppeteer-core');

const env = (k) => {
  if (!process.env[k]) throw new Error('missing env ' + k);
  return process.env[k];
};
const URL_ = env('HAI_DASH_URL');
const ART = env('HAI_ARTIFACTS');
const LOW = env('HAI_LOW_CHAIN');
const T_START = Date.now();
const NAME = '<img src=x onerror=alert(1)>';
let failures = 0;
function check(ok, what) {
  console.log((ok ? 'ok   ' : 'FAIL ') + what);
  if (!ok) failures++;
}

async function signIn(browser, token) {
  const context = await browser.createBrowserContext();  // own cookies per user
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.dialogs = [];
  page.on('dialog', async (d) => {
    page.dialogs.push(d.type() + ':' + d.message());
    if (d.type() === 'prompt') await d.accept('browser test');
    else await d.dismiss();
  });
  page.on('pageerror', (e) => console.log('page error: ' + e.message));
  await page.setViewport({ width: 1400, height: 1000 });
  await page.goto(URL_ + '/', { waitUntil: 'networkidle0' });
  await page.waitForSelector('#token', { visible: true });
  await page.type('#token', token);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#map');
  check(!page.url().includes(token), 'the token is not in the URL');
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ART, name + '.png'), fullPage: true });
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start: off for this test only.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    // Security headers on the page itself.
    const head = await fetch(URL_ + '/');
    const csp = head.headers.get('content-security-policy') || '';
    check(csp.includes("frame-ancestors 'none'") && csp.includes("script-src 'self'") &&
      !csp.includes('unsafe-inline'), 'CSP: self scripts only, no unsafe-inline, frame-ancestors none');
    check(head.headers.get('x-content-type-options') === 'nosniff', 'X-Content-Type-Options: nosniff');
    check(head.headers.get('referrer-policy') === 'no-referrer', 'Referrer-Policy: no-referrer');

    // alice signs in and sees her LOW task on every GPU, its name as text.
    const alice = await signIn(browser, env('HAI_ALICE_TOKEN'));
    const cookies = await alice.cookies();
    const session = cookies.find((c) => c.name === 'hai_session');
    check(session && session.httpOnly && session.sameSite === 'Strict', 'session cookie is HttpOnly and SameSite=Strict');
    await alice.waitForFunction((low) => {
      const cells = [...document.querySelectorAll('.gpu')];
      return cells.length > 0 && cells.every((c) => c.dataset.chain === low);
    }, {}, LOW);
    const names = await alice.$$eval(`.gpu[data-chain="${LOW}"] a`, (as) => as.map((a) => a.textContent));
    check(names.length > 0 && names.every((n) => n === NAME), 'the markup task name renders literally on the map');
    check(await alice.$$eval('#view img', (imgs) => imgs.length) === 0, 'no <img> element was created from the name');
    await shot(alice, '1-map-low');

    // bob's HIGH task preempts it: the GPUs change owner on the open page (server-sent
    // events; the page does not poll while its stream is up).
    let out;
    try {
      out = execSync(env('HAI_SUBMIT_HIGH') + ' 2>&1', { encoding: 'utf8' });
    } catch (e) {
      throw new Error('submitting the HIGH task failed: ' + e.stdout);
    }
    const t0 = Date.now();
    const high = String(JSON.parse(out.slice(out.indexOf('{'))).chain_id || JSON.parse(out.slice(out.indexOf('{'))).task.chain_id);
    await alice.waitForFunction((h) => [...document.querySelectorAll('.gpu')].some((c) => c.dataset.chain === h),
      { timeout: 30000, polling: 20 }, high);
    console.log(`HIGH task ${high} shown on the map ${Date.now() - t0} ms after its submit returned`);
    const owners = await alice.$$eval('.gpu', (cs) => cs.map((c) => c.dataset.chain || 'free'));
    check(owners.includes(high), `a GPU changed owner to the HIGH task (owners now: ${owners.join(',')})`);
    await shot(alice, '2-map-high-preempted-low');

    // While the HIGH task runs, the LOW one waits in the queue with a typed reason.
    await alice.goto(URL_ + '/#/queue', { waitUntil: 'networkidle0' });
    await alice.waitForSelector(`#queue a[data-chain="${LOW}"]`, { timeout: 10000 });
    const row = await alice.$eval(`#queue a[data-chain="${LOW}"]`, (a) => a.closest('tr').textContent);
    check(row.includes(NAME) && /[A-Z_]{6,}/.test(row), 'the queue shows the LOW task literally with a typed reason: ' + row);
    await shot(alice, '2b-queue-low-waiting');

    // The LOW task's timeline shows the suspension (naming its preemptor) and, once the HIGH
    // task is done, the resume in a new attempt.
    await alice.goto(URL_ + '/#/task/' + LOW, { waitUntil: 'networkidle0' });
    await alice.waitForSelector('#timeline');
    await alice.waitForFunction(() => {
      const kinds = [...document.querySelectorAll('#timeline li')].map((li) => li.dataset.kind);
      const requeued = kinds.indexOf('requeued');
      return kinds.includes('suspend_requested') && requeued >= 0 && kinds.indexOf('started', requeued) > requeued;
    }, { timeout: 90000, polling: 200 });
    const timeline = await alice.$$eval('#timeline li', (lis) => lis.map((li) => li.textContent));
    check(timeline.some((t) => t.includes('suspend_requested') && t.includes('preempted by task ' + high)),
      'the timeline names the preemptor of the suspension');
    check(timeline.some((t) => t.includes('suspended')), 'the timeline shows the attempt suspended');
    const attempts = await alice.$$eval('#timeline li[data-kind=started]', (lis) => lis.map((li) => li.dataset.attempt));
    check(new Set(attempts).size >= 2, 'the task started again in a new attempt (resumed)');
    check((await alice.$eval('#task-name', (e) => e.textContent)) === NAME, 'the task page shows the name literally');
    // The rank log tails live and shows "<script>" as text.
    await alice.waitForFunction(() => document.getElementById('log').textContent.includes('<script>'), { timeout: 30000 });
    check(await alice.$$eval('#log script, #view script', (s) => s.length) === 0, 'the log line <script> made no element');
    await shot(alice, '3-task-timeline');

    // bob cannot open alice's task: the same PERMISSION_DENIED as the gRPC API.
    const bob = await signIn(browser, env('HAI_BOB_TOKEN'));
    await bob.goto(URL_ + '/#/task/' + LOW, { waitUntil: 'networkidle0' });
    await bob.waitForSelector('#page-error');
    check((await bob.$eval('#page-error', (e) => e.dataset.code)) === 'PERMISSION_DENIED',
      "bob gets PERMISSION_DENIED for alice's task");
    check(!(await bob.$eval('#view', (v) => v.textContent)).includes("alert('log')"),
      "none of alice's log reached bob's page");
    await shot(bob, '4-bob-denied');

    // Cross-site request forgery: bob's (non-admin) refusal aside, a cookie-carrying request
    // without the custom header, or from another origin, is refused before any action.
    const admin = await signIn(browser, env('HAI_ADMIN_TOKEN'));
    const adminCookie = (await admin.cookies()).find((c) => c.name === 'hai_session');
    const node = await admin.$eval('.node', (n) => n.dataset.node);
    const post = (headers) => fetch(URL_ + '/api/v1/nodes/' + node + '/state', {
      method: 'POST', headers: Object.assign({ Cookie: 'hai_session=' + adminCookie.value,
        'Content-Type': 'application/json' }, headers), body: '{"state":"CORDONED"}' });
    check((await post({})).status === 403, 'a state change without X-Hai-Request is refused (403)');
    check((await post({ 'X-Hai-Request': '1', Origin: 'http://evil.example' })).status === 403,
      'a state change from another origin is refused (403)');
    // The admin cordons and uncordons from the map.
    await admin.click(`.node[data-node="${node}"] button[data-action=CORDONED]`);
    await admin.waitForSelector(`.node[data-node="${node}"][data-state=CORDONED]`);
    check(true, 'the admin cordoned ' + node + ' from the map');
    await shot(admin, '5-admin-cordoned');
    await admin.click(`.node[data-node="${node}"] button[data-action=READY]`);
    await admin.waitForSelector(`.node[data-node="${node}"][data-state=READY]`);
    check(true, 'the admin uncordoned ' + node);

    // The admin drains it from the map: the prompt's reason shows with the new state, and the
    // drain suspends the task running there, so the node's GPU comes free on the open map.
    await admin.click(`.node[data-node="${node}"] button[data-action=DRAINING]`);
    await admin.waitForSelector(`.node[data-node="${node}"][data-state=DRAINING]`);
    const drained = await admin.$eval(`.node[data-node="${node}"] .node-state`, (e) => e.textContent);
    check(drained === 'DRAINING: browser test', `the map shows ${node} draining with its reason ("${drained}")`);
    const apiState = await admin.evaluate(async (n) => {
      const r = await fetch('/api/v1/nodes', { credentials: 'same-origin' });
      return (await r.json()).nodes.find((x) => x.name === n).state;
    }, node);
    check(apiState === 'DRAINING', `GET /api/v1/nodes has ${node} DRAINING (${apiState})`);
    await admin.waitForSelector(`.node[data-node="${node}"] .gpu.free`, { timeout: 60000 });
    check(true, `the drain suspended the task on ${node}: its GPU is free on the map`);
    await shot(admin, '6-admin-drained');
    // Some unavailable time for the drained node before the usage window closes.
    await new Promise((r) => setTimeout(r, 8000));

    // The usage page for a window (typed into its form) shows allocated, idle and unavailable
    // GPU-hours that match `hai-cli usage --json` for the same window, and conserve capacity.
    const iso = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const since = iso(T_START);  // the nodes exist by then: alice's task runs on them
    const until = iso(Date.now() - 1000);
    await admin.goto(URL_ + '/#/usage', { waitUntil: 'networkidle0' });
    await admin.waitForSelector('#usage-form');
    for (const [name, value] of [['since', since], ['until', until]]) {
      await admin.$eval(`#usage-form input[name=${name}]`, (e, v) => { e.value = v; }, value);
    }
    await admin.select('#usage-form select[name=by]', 'user');
    await admin.click('#usage-form button[type=submit]');
    await admin.waitForFunction((s, u) => {
      const w = document.getElementById('usage-window');
      return w && Date.parse(w.dataset.since) === Date.parse(s) && Date.parse(w.dataset.until) === Date.parse(u);
    }, {}, since, until);
    const shown = await admin.$$eval('#usage-rows tr[data-key]', (trs) => trs.map((tr) => ({
      key: tr.dataset.key,
      v: Object.fromEntries([...tr.querySelectorAll('td[data-field]')].map((td) => [td.dataset.field, td.textContent])),
    })));
    await shot(admin, '7-usage');
    const fields = ['gpu_hours_allocated', 'gpu_hours_lost_to_preemption', 'gpu_hours_idle', 'gpu_hours_unavailable'];
    let cli;
    try {
      cli = JSON.parse(execSync(`${env('HAI_CLI_ADMIN')} --json usage --since ${since} --until ${until} --by user`,
        { encoding: 'utf8' }));
    } catch (e) {
      throw new Error('hai-cli usage failed: ' + (e.stdout || e.message));
    }
    const expected = cli.rows.map((r) => ({ key: r.key, v: Object.fromEntries(fields.map((f) => [f, Number(r[f]).toFixed(3)])) }));
    check(JSON.stringify(shown) === JSON.stringify(expected),
      `the usage page's rows equal hai-cli usage --json for ${since} .. ${until}:\n  page ${JSON.stringify(shown)}\n  cli  ${JSON.stringify(expected)}`);
    const usageRow = (k) => shown.find((r) => r.key === k);
    const num = (k, f) => Number((usageRow(k) || { v: {} }).v[f] || 0);
    check(num('alice', 'gpu_hours_allocated') > 0 && num('bob', 'gpu_hours_allocated') > 0,
      'alice and bob have allocated GPU-hours on the usage page');
    check(num('(unallocated)', 'gpu_hours_unavailable') > 0,
      `the drained node's time shows as unavailable (${num('(unallocated)', 'gpu_hours_unavailable')} GPU-hours)`);
    // Conservation, on hai-cli's unrounded figures (the page shows the same ones, checked above).
    const total = cli.rows.reduce((t, r) => t + r.gpu_hours_allocated + r.gpu_hours_idle + r.gpu_hours_unavailable, 0);
    const capacity = 2 * (Date.parse(until) - Date.parse(since)) / 3600e3;  // 2 nodes x 1 GPU
    check(Math.abs(total - capacity) < 1e-6,
      `allocated + idle + unavailable (${total.toFixed(6)}) = 2 GPUs x the window (${capacity.toFixed(6)} GPU-hours)`);

    await admin.goto(URL_ + '/#/users', { waitUntil: 'networkidle0' });
    await admin.waitForSelector('#users');
    await shot(admin, '8-users');
    await admin.goto(URL_ + '/#/queue', { waitUntil: 'networkidle0' });
    await admin.waitForSelector('#queue');
    await shot(admin, '9-queue');

    for (const [who, page] of [['alice', alice], ['bob', bob], ['admin', admin]]) {
      const alerts = page.dialogs.filter((d) => !d.startsWith('prompt:'));
      check(alerts.length === 0, `no dialog fired on ${who}'s pages (${alerts.join('; ')})`);
    }
  } finally {
    await browser.close();
  }
  console.log(failures === 0 ? 'dashboard browser test: all checks passed' : `dashboard browser test: ${failures} check(s) failed`);
  process.exit(failures === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error('dashboard browser test failed: ' + (e.stack || e));
  process.exit(1);
});
