// The hai dashboard: one page, no framework, no build step. Everything it shows comes from
// haid's JSON API (docs/http-api.md) and is put in the page as text (textContent and text
// nodes), never as HTML, so a task name or log line cannot become markup or script.
'use strict';

const TIERS = ['LOW', 'BELOW_NORMAL', 'NORMAL', 'ABOVE_NORMAL', 'HIGH', 'VERY_HIGH', 'EXTREME_HIGH'];
const state = { me: null, route: '', timer: null, inflight: false, again: false, logs: null };

// ---- DOM helpers: children that are strings become text nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k.startsWith('data-')) e.setAttribute(k, String(v));
    else if (k === 'href') e.setAttribute('href', safeHref(v));
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
// Links only to this page's routes or to http(s) URLs: never javascript: or data:.
function safeHref(v) {
  const s = String(v);
  if (s.startsWith('#/')) return s;
  try {
    const u = new URL(s, location.href);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.href;
  } catch (e) { /* fall through */ }
  return '#/';
}
function table(headers, rows) {
  return el('table', {}, el('tr', {}, headers.map((h) => el('th', {}, h))),
    rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c)))));
}
function tierName(t) {
  if (typeof t === 'string') return t.replace(/^PRIORITY_/, '');
  const names = { 0: 'LOW', 5: 'BELOW_NORMAL', 10: 'NORMAL', 20: 'ABOVE_NORMAL', 30: 'HIGH',
    40: 'VERY_HIGH', 50: 'EXTREME_HIGH' };
  return names[t] || String(t);
}
function when(ts) {
  if (!ts) return '';
  const d = typeof ts === 'number' ? new Date(ts * 1000) : new Date(ts);
  return isNaN(d) || d.getTime() <= 0 ? '' : d.toLocaleString();  // unset timestamps read as 1970
}
function taskLink(id, label) { return el('a', { href: '#/task/' + id, 'data-chain': id }, label); }

// ---- API
async function api(path, options) {
  const opts = Object.assign({ credentials: 'same-origin', headers: {} }, options || {});
  if (opts.method && opts.method !== 'GET') {
    opts.headers['X-Hai-Request'] = '1';  // haid refuses state changes without it (CSRF)
    opts.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, opts);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const err = new Error((body && body.error) || r.statusText);
    err.status = r.status;
    err.code = body && body.code;
    throw err;
  }
  return body;
}

// ---- sign-in
async function signIn(ev) {
  ev.preventDefault();
  const input = document.getElementById('token');
  const msg = document.getElementById('signin-error');
  msg.textContent = '';
  try {
    state.me = await api('/api/v1/session', { method: 'POST', body: JSON.stringify({ token: input.value }) });
    input.value = '';
    start();
  } catch (e) {
    msg.textContent = 'Sign-in failed: ' + e.message;
  }
}
async function signOut() {
  try { await api('/api/v1/session', { method: 'DELETE' }); } catch (e) { /* signed out anyway */ }
  location.hash = '';
  location.reload();
}
function showSignIn() {
  document.getElementById('signin').hidden = false;
  document.getElementById('nav').hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('view').replaceChildren();
}

// ---- live updates: server-sent events; a refused or broken stream falls back to a slow poll.
let source = null;
let pollTimer = null;
function connectEvents() {
  if (source) source.close();
  source = new EventSource('/api/v1/events');
  const live = document.getElementById('live');
  source.addEventListener('open', () => { live.textContent = 'live'; live.className = 'live on'; });
  const onChange = (ev) => {
    let data = null;
    try { data = window.haiLastEvent = JSON.parse(ev.data); } catch (e) { /* keep going */ }
    // A map already at the nodes' version this change produced has nothing to fetch (an
    // attempt queued or ended that held no GPU, another table's change).
    const onMap = /^#?\/?(map)?$/.test(location.hash);
    if (onMap && data && state.map && data.nodes_version !== undefined &&
        data.nodes_version === state.map.version && document.getElementById('map') === state.map.root) return;
    refresh();
  };
  source.addEventListener('change', onChange);
  // A pass publishes queue positions and pending reasons; the map does not show them.
  source.addEventListener('pass', (ev) => {
    if (!/^#?\/?(map)?$/.test(location.hash)) onChange(ev);
  });
  source.addEventListener('error', () => {
    live.textContent = source.readyState === EventSource.CLOSED ? 'polling' : 'reconnecting';
    live.className = 'live';
    if (source.readyState === EventSource.CLOSED && !pollTimer) {
      // Refused (too many live pages) or signed out: poll every 10 s, retry the stream later.
      pollTimer = setInterval(refresh, 10000);
      setTimeout(() => { clearInterval(pollTimer); pollTimer = null; connectEvents(); }, 60000);
    }
  });
}

// Re-renders the current view; calls during a render run once after it.
async function refresh() {
  if (state.inflight) { state.again = true; return; }
  state.inflight = true;
  try {
    do {
      state.again = false;
      await render();
    } while (state.again);
  } finally {
    state.inflight = false;
  }
}

async function render() {
  const view = document.getElementById('view');
  const route = location.hash.replace(/^#\/?/, '') || 'map';
  // A page's parameters follow a '?' (the usage form: #/usage?since=..&until=..&by=..).
  const [page, arg] = route.split('?')[0].split('/');
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === '#/' + page);
  }
  let content;
  try {
    if (page === 'map') content = await mapView();
    else if (page === 'queue') content = await queueView();
    else if (page === 'tasks') content = await tasksView();
    else if (page === 'task') content = await taskView(arg);
    else if (page === 'users') content = await usersView();
    else if (page === 'jupyter') content = await jupyterView();
    else if (page === 'usage') content = await usageView();
    else content = el('p', {}, 'No such page.');
  } catch (e) {
    if (e.status === 401) { showSignIn(); return; }
    content = el('p', { class: 'error', id: 'page-error', 'data-code': e.code || '' },
      (e.status === 403 ? 'Not allowed: ' : 'Error: ') + e.message);
  }
  if (view.firstChild !== content || view.childNodes.length !== 1) view.replaceChildren(content);
  window.haiRendered = { route, at: Date.now(), seq: window.haiLastEvent && window.haiLastEvent.seq };
  window.haiRenders = (window.haiRenders || 0) + 1;
}

// ---- cluster map
function gpuCell(node, gpu, holder) {
  if (!holder) return el('div', { class: 'gpu free', 'data-node': node.name, 'data-gpu': gpu }, 'GPU ' + gpu, el('br'), 'free');
  const tier = holder.tier_name || tierName(holder.tier);
  return el('div', {
    class: 'gpu tier-' + tier, 'data-node': node.name, 'data-gpu': gpu, 'data-chain': holder.chain_id,
    'data-user': holder.user, title: holder.task + ' (' + holder.user + ', ' + tier + ')',
  }, 'GPU ' + gpu, el('br'), taskLink(holder.chain_id, holder.task), el('br'), holder.user);
}
function nodeBox(node) {
  const byGpu = {};
  const whole = [];
  for (const h of node.holders || []) {
    if (!h.gpus.length) whole.push(h);
    for (const g of h.gpus) byGpu[g] = h;
  }
  const cells = [];
  for (let g = 0; g < node.gpus; g++) cells.push(gpuCell(node, g, byGpu[g] || whole[0]));
  const st = String(node.state || '');
  const actions = [];
  if (state.me && state.me.role === 'admin') {
    const act = (target, label) => el('button', {
      type: 'button', 'data-action': target, onclick: () => setNodeState(node.name, target),
    }, label);
    if (st !== 'CORDONED') actions.push(act('CORDONED', 'Cordon'));
    if (st !== 'READY') actions.push(act('READY', 'Uncordon'));
    if (st !== 'DRAINING') actions.push(act('DRAINING', 'Drain'));
  }
  return el('div', { class: 'node state-' + st, 'data-node': node.name, 'data-state': st },
    el('div', { class: 'node-head' }, node.name),
    el('div', { class: 'node-state' }, st + (node.state_reason ? ': ' + node.state_reason : '')),
    el('div', { class: 'gpus' }, cells),
    actions.length ? el('div', { class: 'actions' }, actions) : null);
}
async function setNodeState(name, target) {
  let reason = '';
  if (target !== 'READY') {
    reason = window.prompt('Reason for ' + target.toLowerCase() + ' ' + name + ':', 'from the dashboard');
    if (reason === null) return;
  }
  try {
    await api('/api/v1/nodes/' + encodeURIComponent(name) + '/state', {
      method: 'POST', body: JSON.stringify({ state: target, reason }),
    });
  } catch (e) {
    window.alert('Could not set ' + name + ' ' + target + ': ' + e.message);
  }
  refresh();
}
// The map fetches every node once, then only the nodes changed since the version it shows
// (GET /api/v1/nodes?since=V): a live update usually changes a few nodes of thousands.
async function mapView() {
  const prev = state.map;
  const current = document.getElementById('map');
  const role = state.me && state.me.role;
  if (prev && current && prev.root === current && prev.role === role) {
    const d = await api('/api/v1/nodes?since=' + prev.version);
    if (!d.full) {
      for (const n of d.nodes) {
        const old = prev.elements.get(n.name);
        if (!old) return buildMap(await api('/api/v1/nodes'));  // a new node moves the layout: never here
        const fresh = nodeBox(n);
        old.replaceWith(fresh);
        prev.elements.set(n.name, fresh);
      }
      prev.version = d.version;
      return current;
    }
    return buildMap(d);
  }
  return buildMap(await api('/api/v1/nodes'));
}
function buildMap(data) {
  const groups = new Map();
  for (const n of data.nodes) {
    const key = (n.jupyter ? 'jupyter:' : '') + n.group;
    if (!groups.has(key)) groups.set(key, { name: n.group, jupyter: n.jupyter, nodes: [] });
    groups.get(key).nodes.push(n);
  }
  const sorted = [...groups.values()].sort((a, b) => (a.jupyter - b.jupyter) || a.name.localeCompare(b.name));
  const section = (list) => list.map((g) => el('div', { class: 'group', 'data-group': g.name },
    el('h3', {}, g.name + ' (' + g.nodes.length + ' nodes)'),
    el('div', { class: 'nodes' }, g.nodes.map(nodeBox))));
  const training = sorted.filter((g) => !g.jupyter);
  const jupyter = sorted.filter((g) => g.jupyter);
  const root = el('div', { id: 'map' },
    el('h1', {}, 'Cluster'),
    el('p', { class: 'legend' }, 'Tiers: ', TIERS.map((t) => el('span', { class: 'tier-' + t }, t))),
    el('div', { class: 'groups' }, section(training)),
    jupyter.length ? [el('h2', {}, 'Jupyter node groups'), el('div', { class: 'groups' }, section(jupyter))] : null);
  const elements = new Map();
  for (const e of root.querySelectorAll('.node')) elements.set(e.dataset.node, e);
  state.map = { root, elements, version: data.version, role: state.me && state.me.role };
  return root;
}

// ---- queue
async function queueView() {
  const data = await api('/api/v1/queue?all=1');
  const byGroup = new Map();
  for (const e of data.entries) {
    const key = e.group + ' / ' + tierName(e.tier);
    if (!byGroup.has(key)) byGroup.set(key, []);
    byGroup.get(key).push(e);
  }
  const parts = [el('h1', {}, 'Queue (' + data.entries.length + ' waiting)')];
  if (!data.entries.length) parts.push(el('p', { class: 'note' }, 'Nothing is waiting.'));
  for (const [key, list] of byGroup) {
    list.sort((a, b) => a.position - b.position);
    parts.push(el('h2', {}, key));
    parts.push(table(['#', 'task', 'user', 'nodes', 'reason', 'what it waits for / preemption it would cause'],
      list.map((e) => [String(e.position), taskLink(e.chain_id, e.name), e.user, String(e.nodes), e.reason, e.detail])));
  }
  return el('div', { id: 'queue' }, parts);
}

// ---- tasks
async function tasksView() {
  const all = state.me && state.me.role === 'admin' ? '&all=1' : '';
  const data = await api('/api/v1/tasks?finished=1&limit=200' + all);
  return el('div', { id: 'tasks' }, el('h1', {}, 'Tasks'),
    table(['id', 'name', 'user', 'state', 'group', 'nodes', 'priority', 'submitted'],
      data.tasks.map((t) => [taskLink(t.chain_id, String(t.chain_id)), t.name, t.user, t.state, t.group,
        String(t.nodes), tierName(t.priority), when(t.first_submit_at)])));
}

// ---- one task
function eventText(ev) {
  const d = ev.detail || {};
  const bits = [];
  for (const [k, v] of Object.entries(d)) {
    if (k === 'preemptor_chain_id' || k === 'victims' || k === 'victim_chain_id') continue;
    bits.push(k + '=' + (typeof v === 'object' ? JSON.stringify(v) : String(v)));
  }
  return bits.join(' ');
}
function eventLinks(ev) {
  const d = ev.detail || {};
  const out = [];
  if (d.preemptor_chain_id) out.push(' preempted by ', taskLink(d.preemptor_chain_id, 'task ' + d.preemptor_chain_id));
  const victims = [].concat(d.victims || [], d.victim_chain_id ? [d.victim_chain_id] : []);
  for (const v of victims) {
    const id = typeof v === 'object' ? (v.chain_id || v.chain) : v;
    if (id) out.push(' victim ', taskLink(id, 'task ' + id));
  }
  return out;
}
async function taskView(id) {
  if (!/^[0-9]+$/.test(id || '')) return el('p', { class: 'error' }, 'No such task.');
  const t = await api('/api/v1/tasks/' + id);
  const cur = t.attempts.length ? t.attempts[t.attempts.length - 1] : null;
  const parts = [
    el('h1', { id: 'task-title' }, 'Task ' + t.chain_id + ': ', el('span', { id: 'task-name' }, t.name)),
    table(['user', 'state', 'group', 'nodes x GPUs', 'priority', 'exit code', 'entrypoint', 'args'],
      [[t.user, el('span', { id: 'task-state' }, t.state), t.group, t.nodes + ' x ' + (t.gpus_per_node || 'all'),
        tierName(t.priority), t.has_exit_code ? String(t.exit_code) : '', t.entrypoint, (t.args || []).join(' ')]]),
  ];
  if (t.pending_reason) {
    parts.push(el('p', { id: 'pending' }, 'Waiting (#' + t.queue_position + ' in its tier): ',
      el('b', {}, t.pending_reason), ' ', t.pending_detail));
  }
  parts.push(el('h2', {}, 'Attempts'));
  parts.push(table(['#', 'state', 'tier', 'queued', 'started', 'ended', 'end reason', 'exit code'],
    t.attempts.map((a) => [String(a.attempt_no), a.state, tierName(a.tier), when(a.queued_at), when(a.started_at),
      when(a.ended_at), a.end_reason, a.has_exit_code ? String(a.exit_code) : ''])));
  if (cur && cur.pods.length) {
    parts.push(el('h2', {}, 'Pods of attempt ' + cur.attempt_no));
    parts.push(table(['rank', 'node', 'GPUs', 'state', 'exit code'],
      cur.pods.map((p) => [String(p.rank), p.node, (p.gpus || []).join(','), p.state, p.has_exit_code ? String(p.exit_code) : ''])));
  }
  parts.push(el('h2', {}, 'Timeline'));
  parts.push(el('ol', { class: 'timeline', id: 'timeline' }, t.events.map((ev) => el('li', {
    'data-kind': ev.kind, 'data-attempt': ev.attempt_id,
  }, when(ev.at_unix) + ' ', el('span', { class: 'kind' }, ev.kind), ' by ' + ev.actor + ' ', eventText(ev), eventLinks(ev)))));
  parts.push(el('h2', {}, 'Logs'));
  parts.push(await logsPanel(t, cur));
  return el('div', { id: 'task' }, parts);
}

// The rank log tail; kept across re-renders of the same task, fetched on from its offset.
async function logsPanel(t, cur) {
  const ranks = cur ? Math.max(1, t.nodes) : 1;
  const attempt = cur ? cur.attempt_no : 0;
  let l = state.logs;
  if (!l || l.chain !== t.chain_id || l.attempt !== attempt) {
    l = state.logs = { chain: t.chain_id, attempt, rank: 0, offset: null, text: '' };
  }
  const q = '?attempt=' + attempt + '&rank=' + l.rank + (l.offset === null ? '' : '&from=' + l.offset);
  try {
    const r = await api('/api/v1/tasks/' + t.chain_id + '/logs' + q);
    l.text = (l.text + r.text).slice(-256 * 1024);
    l.offset = r.offset;
  } catch (e) {
    l.text += '[logs: ' + e.message + ']\n';
  }
  const select = el('select', { id: 'rank', onchange: (ev) => {
    state.logs = { chain: t.chain_id, attempt, rank: Number(ev.target.value), offset: null, text: '' };
    refresh();
  } });
  for (let r = 0; r < ranks; r++) select.append(el('option', { value: r, selected: r === l.rank ? 'selected' : null }, 'rank ' + r));
  const pre = el('pre', { class: 'log', id: 'log' });
  pre.textContent = l.text;
  // Tail live while the task runs (log files are not tables: no notification for them).
  clearTimeout(state.timer);
  if (t.state === 'RUNNING') state.timer = setTimeout(refresh, 2000);
  return el('div', {}, el('label', {}, 'Attempt ' + attempt + ' ', select), pre);
}

// ---- users and groups
async function usersView() {
  const d = await api('/api/v1/users');
  const me = d.me;
  const parts = [el('h1', {}, 'Users and groups'),
    el('p', {}, 'You are ', el('b', {}, me.user), ' (' + me.role + '), groups: ' + (me.groups || []).join(', ')),
    el('h2', {}, 'Your quota and use (nodes)'),
    table(['group', 'tier', 'quota', 'used', 'from'],
      (me.quota || []).map((q) => [q.group, q.tier_name || tierName(q.tier), String(q.limit_nodes), String(q.used_nodes), q.source])),
    el('h2', {}, 'Your Jupyter quota'),
    table(['group', 'containers', 'GPUs', 'memory MiB', 'keep-alive'],
      (me.jupyter_quota || []).map((q) => [q.group, q.used_containers + ' / ' + q.containers, q.used_gpus + ' / ' + q.gpus,
        q.used_memory_mib + ' / ' + q.memory_mib, q.used_keep_alive + ' / ' + q.keep_alive]))];
  if (d.users) {
    parts.push(el('h2', {}, 'All users (quota vs use per group and tier, nodes)'));
    parts.push(table(['user', 'role', 'active', 'groups', 'quota vs use'],
      d.users.map((u) => [u.name, u.role, u.active ? 'yes' : 'no', (u.groups || []).join(', '),
        el('div', {}, (u.quota || []).map((q) => el('div', {}, q.group + ' ' + q.tier_name + ': ' + q.used_nodes + ' / ' + q.limit_nodes)))])));
    parts.push(el('h2', {}, 'Groups in use (nodes)'));
    parts.push(table(['group', 'tier', 'used'], d.group_use.map((g) => [g.group, g.tier_name, String(g.used_nodes)])));
    parts.push(el('h2', {}, 'Quota rows'));
    parts.push(table(['owner', 'resource', 'quota', 'active', 'expires'],
      d.quota_rows.map((q) => [q.owner_kind + ':' + q.owner, q.resource, String(q.quota), q.active ? 'yes' : 'no',
        Number(q.expire_at_unix) ? when(Number(q.expire_at_unix)) : 'never'])));
  }
  return el('div', { id: 'users' }, parts);
}

// ---- Jupyter
async function jupyterView() {
  const d = await api('/api/v1/jupyter');
  return el('div', { id: 'jupyter' }, el('h1', {}, 'Your Jupyter containers'),
    d.containers.length ? table(['id', 'name', 'state', 'group', 'node', 'GPUs', 'open', 'waiting'],
      d.containers.map((c) => [String(c.chain_id), c.name, c.state, c.group, c.node, (c.gpu_indices || []).join(','),
        c.ready && c.url ? el('a', { href: c.url, target: '_blank', rel: 'noopener noreferrer' }, 'open') : '',
        c.pending_reason ? c.pending_reason + ' ' + c.pending_detail : '']))
      : el('p', { class: 'note' }, 'No containers. Create one with `hai-cli jupyter create`.'));
}

// ---- usage (GET /api/v1/usage, served by haid's usage accounting)
async function usageView() {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const until = params.get('until') || new Date().toISOString();
  const since = params.get('since') || new Date(Date.now() - 7 * 86400e3).toISOString();
  const by = params.get('by') || 'user';
  const form = el('form', { id: 'usage-form', onsubmit: (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    location.hash = '#/usage?' + new URLSearchParams({ since: f.get('since'), until: f.get('until'), by: f.get('by') });
  } },
  el('label', {}, 'since ', el('input', { name: 'since', value: since })), ' ',
  el('label', {}, 'until ', el('input', { name: 'until', value: until })), ' ',
  el('label', {}, 'by ', el('select', { name: 'by' }, ['user', 'group', 'tier', 'node-group'].map((b) => el('option', { value: b, selected: b === by ? 'selected' : null }, b)))),
  ' ', el('button', { type: 'submit' }, 'Show'));
  let body;
  try {
    const d = await api('/api/v1/usage?' + new URLSearchParams({ since, until, by }));
    // Three decimals: a GPU-hour's thousandth is 3.6 GPU-seconds, so short windows still read.
    const f = (x) => Number(x || 0).toFixed(3);
    const fields = ['gpu_hours_allocated', 'gpu_hours_lost_to_preemption', 'gpu_hours_idle', 'gpu_hours_unavailable'];
    body = [el('p', { id: 'usage-window', 'data-since': d.since, 'data-until': d.until },
      'From ' + d.since + ' to ' + d.until + ', by ' + d.by + ' (GPU-hours)'),
    el('table', { id: 'usage-rows' },
      el('tr', {}, [d.by, 'allocated', 'lost to preemption', 'idle', 'unavailable'].map((h) => el('th', {}, h))),
      d.rows.map((r) => el('tr', { 'data-key': r.key }, el('td', {}, r.key),
        fields.map((k) => el('td', { 'data-field': k }, f(r[k]))))))];
  } catch (e) {
    body = el('p', { class: 'error', id: 'usage-error' }, e.status === 404
      ? 'Usage accounting is not available on this haid (GET /api/v1/usage answered 404).'
      : 'Usage: ' + e.message + ' (HTTP ' + e.status + ')');
  }
  return el('div', { id: 'usage' }, el('h1', {}, 'Usage'), form, body);
}

// ---- start
async function start() {
  document.getElementById('signin').hidden = true;
  document.getElementById('nav').hidden = false;
  const so = document.getElementById('signout');
  so.hidden = false;
  document.getElementById('who').textContent = state.me.user + ' (' + state.me.role + ')';
  connectEvents();
  await refresh();
}

document.addEventListener('DOMContentLoaded', async () => {
  document.getElementById('signin').addEventListener('submit', signIn);
  document.getElementById('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => { clearTimeout(state.timer); refresh(); });
  try {
    state.me = await api('/api/v1/whoami');
    start();
  } catch (e) {
    showSignIn();
  }
});
