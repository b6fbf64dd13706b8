// The browser side of dashboard_latency.cc: an admin's cluster map open in headless
// Chromium; HAI_CHANGES times a node of n000000.. (HAI_NODES of them) is cordoned or
// uncordoned through the JSON API, timed from just before the call until the open map shows
// the node's new state. Prints the latency distribution.
'use strict';
const puppeteer = require('puppeteer-core');

const URL_ = process.env.HAI_DASH_URL;
const TOKEN = process.env.HAI_ADMIN_TOKEN;
const NODES = Number(process.env.HAI_NODES || 50);
const CHANGES = Number(process.env.HAI_CHANGES || 100);

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(60000);
    await page.setViewport({ width: 1400, height: 1000 });
    await page.goto(URL_ + '/', { waitUntil: 'networkidle0' });
    await page.type('#token', TOKEN);
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#map');
    const t = Date.now();
    await page.waitForFunction(() => document.querySelectorAll('.node').length > 0);
    const shown = await page.$$eval('.node', (n) => n.length);
    const gpus = await page.$$eval('.gpu', (n) => n.length);
    console.log(`map: ${shown} nodes, ${gpus} GPUs rendered (first render waited ${Date.now() - t} ms)`);
    await page.waitForFunction(() => document.getElementById('live').textContent === 'live');
    const samples = [];
    const calls = [];
    for (let i = 0; i < CHANGES; i++) {
      const node = 'n' + String(Math.floor(i / 2) % NODES).padStart(6, '0');
      const target = i % 2 === 0 ? 'CORDONED' : 'READY';
      const t0 = Date.now();
      const r = await fetch(`${URL_}/api/v1/nodes/${node}/state`, {
        method: 'POST',
        headers: { Authorization: 'Bearer ' + TOKEN, 'Content-Type': 'application/json' },
        body: JSON.stringify({ state: target, reason: 'latency bench' }),
      });
      calls.push(Date.now() - t0);
      if (!r.ok) throw new Error(`${node} ${target}: ${r.status} ${await r.text()}`);
      await page.waitForFunction((n, s) => {
        const e = document.querySelector(`.node[data-node="${n}"]`);
        return e && e.dataset.state === s;
      }, { polling: 'mutation', timeout: 30000 }, node, target);
      samples.push(Date.now() - t0);
    }
    const seen = await page.evaluate(() => ({ events: window.haiLastEvent && window.haiLastEvent.seq, renders: window.haiRenders }));
    console.log(`page: ${seen.events} events received, ${seen.renders} renders`);
    samples.sort((a, b) => a - b);
    calls.sort((a, b) => a - b);
    console.log(`state change -> shown in the browser, ${samples.length} changes: ` +
      `p50 ${pct(samples, 50)} ms, p90 ${pct(samples, 90)} ms, p99 ${pct(samples, 99)} ms, max ${samples[samples.length - 1]} ms`);
    console.log(`  of which the API call itself: p50 ${pct(calls, 50)} ms, p99 ${pct(calls, 99)} ms`);
    const api = Date.now();
    const nodes = await fetch(URL_ + '/api/v1/nodes', { headers: { Authorization: 'Bearer ' + TOKEN } });
    const body = await nodes.text();
    console.log(`GET /api/v1/nodes: ${Date.now() - api} ms, ${(body.length / 1024).toFixed(0)} KiB`);
    const q0 = Date.now();
    const queue = await (await fetch(URL_ + '/api/v1/queue?all=1', { headers: { Authorization: 'Bearer ' + TOKEN } })).json();
    console.log(`GET /api/v1/queue?all=1: ${Date.now() - q0} ms, ${queue.entries.length} entries`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error('dashboard_latency failed: ' + (e.stack || e));
  process.exit(1);
});
