// The omnirec console: one small ES module, no dependencies, served by the service itself
// (src/api/console-assets.ts). Views by URL hash: #customers, #products, #models, #offers.
// Everything on the page is built with DOM calls (textContent, never innerHTML), so data
// from the API cannot inject markup; the CSP allows scripts and styles from this origin only.

const KEY_STORAGE = 'omnirec.apiKey';
const STORE_STORAGE = 'omnirec.store';
const VIEWS = ['customers', 'products', 'models', 'offers'];

// ---------- DOM helpers ----------
/** h('p', {class: 'x', onclick: fn}, 'text', child…): an element; null/false children are skipped. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}
const SVG_NS = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}
function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}
function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}
const $ = (id) => document.getElementById(id);
function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const num = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 2, minimumFractionDigits: 2 });
const int = new Intl.NumberFormat('en-GB');
const money = (x) => (x === null || x === undefined ? '—' : num.format(x));
const day = (iso) => (iso ? iso.slice(0, 10) : '—');
const SEGMENTS = { new: 'New', repeat: 'Repeat', vip: 'VIP', loyal: 'Loyal', high_aov: 'High basket', at_risk: 'At risk', lapsed: 'Lapsed' };
const REASONS = {
  no_consent: 'the customer has not given personalisation consent',
  no_model: 'no model is published yet',
  no_history: 'no purchase history the model knows',
  no_vector: 'the model has no profile for them yet (new customer)',
  no_candidates: 'nothing left after the filters',
  unknown_item: 'the model does not know this product',
  cache_unavailable: 'the model cache is unreachable',
  store_unavailable: 'the history store is unreachable',
  offers_not_configured: 'offers are not configured on this service',
  offers_unavailable: 'the offer service did not answer',
  no_offer: 'no offer fits this customer now',
};
const why = (reason) => REASONS[reason] ?? reason;

// ---------- status and API ----------
function status(text, kind = 'info') {
  const el = $('status');
  el.textContent = text;
  el.dataset.kind = kind;
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Calls the API with the session's key; throws ApiError for a non-2xx answer (401 asks for a key again). */
async function api(path, { method = 'GET', body } = {}) {
  const headers = { 'x-api-key': apiKey() ?? '' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (res.status === 401) {
    sessionStorage.removeItem(KEY_STORAGE);
    route();
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function explainError(err, what) {
  if (!(err instanceof ApiError)) return `${what}: ${err.message}`;
  if (err.status === 403) return `${what}: this API key is not allowed to (${err.message})`;
  if (err.status === 404) return `${what}: not found`;
  if (err.status === 501) return `${what}: not configured on this service`;
  return `${what}: ${err.message}`;
}

async function refreshLive() {
  // /readyz names the version only for an admin key: other keys see whether the service is ready
  try {
    const res = await fetch('/readyz', { headers: apiKey() ? { 'x-api-key': apiKey() } : {} });
    const r = await res.json();
    $('live-model').textContent = r.model?.version ? `Live: ${r.model.version}` : r.status === 'unavailable' ? 'No model live' : `Service ${r.status}`;
  } catch {
    $('live-model').textContent = 'Service unreachable';
  }
}

// ---------- routing ----------
function route() {
  status('');
  const wanted = location.hash.slice(1);
  const view = VIEWS.includes(wanted) ? wanted : 'customers';
  const needKey = !apiKey();
  for (const v of [...VIEWS, 'key']) $(`view-${v}`).hidden = needKey ? v !== 'key' : v !== view;
  $('forget-key').hidden = needKey;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === view && !needKey) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (needKey) {
    $('key-input').focus();
    return;
  }
  if (view === 'models') void loadModels();
  if (view === 'offers') void loadOffers();
}

// ---------- lists of items (recommendations, buy again, similar, bought together) ----------
function itemList(list, { label, empty, onPick, extra }) {
  if (!list.items.length) {
    return h('p', { class: 'empty' }, `${empty}${list.reason ? `: ${why(list.reason)}` : ''}.`);
  }
  return h(
    'ol',
    { class: 'items', 'aria-label': label },
    list.items.map((i) =>
      h(
        'li',
        {},
        h('span', { class: 'title' }, onPick ? h('button', { type: 'button', class: 'link', onclick: () => onPick(i.sku) }, i.title ?? i.sku) : i.title ?? i.sku),
        h('span', { class: 'sku' }, i.sku),
        extra?.(i),
        h('span', { class: 'why' }, i.why),
      ),
    ),
  );
}

// ---------- Customers ----------
async function lookup(event) {
  event.preventDefault();
  const kind = $('lookup-kind').value;
  const value = $('lookup-value').value.trim();
  const store = $('lookup-store').value.trim();
  sessionStorage.setItem(STORE_STORAGE, store);
  if (!value) return;
  const out = $('customer-card');
  status('Looking up…');
  try {
    let id = value;
    if (kind !== 'id') id = (await api(`/v1/customers/lookup?${new URLSearchParams({ [kind]: value })}`)).customerId;
    const q = new URLSearchParams({ limit: '8' });
    if (store) q.set('store', store);
    const card = await api(`/v1/customers/${encodeURIComponent(id)}/profile?${q}`);
    replace(out, customerCard(card));
    status(`Customer ${card.customerId} found.`);
    out.querySelector('h3')?.focus();
  } catch (err) {
    replace(out);
    status(err instanceof ApiError && err.status === 404 ? 'No customer with this identifier.' : explainError(err, 'Lookup failed'), 'error');
  }
}

function customerCard(c) {
  const seg = c.segment ? h('span', { class: `badge seg-${c.segment}` }, SEGMENTS[c.segment] ?? c.segment) : h('span', { class: 'badge' }, 'No segment');
  const tiles = [
    ['Lifetime value', money(c.lifetimeValue)],
    ['Orders', int.format(c.orders)],
    ['Average order', money(c.averageOrderValue)],
    ['Last purchase', c.rfm.recencyDays === null ? '—' : `${int.format(Math.round(c.rfm.recencyDays))} days ago`],
    ['Favourite store', c.favouriteStore ? `${c.favouriteStore.name ?? c.favouriteStore.storeId} (${c.favouriteStore.orders} orders)` : '—'],
  ];
  const rec = c.recommendations;
  const nbo = c.nextBestOffer;
  return h(
    'article',
    { class: 'card', 'aria-labelledby': 'card-title' },
    h(
      'header',
      { class: 'card-head' },
      h('h3', { id: 'card-title', tabindex: '-1' }, `Customer ${c.customerId}`),
      seg,
      h('ul', { class: 'idents', 'aria-label': 'Identifiers' }, c.identifiers.map((i) => h('li', {}, h('span', { class: 'kind' }, i.kind), ' ', i.value))),
    ),
    h('dl', { class: 'tiles' }, tiles.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))),
    h(
      'div',
      { class: 'cols' },
      h(
        'section',
        { 'aria-labelledby': 'rec-title' },
        h('h4', { id: 'rec-title' }, rec.store ? `Suggest from store ${rec.store}` : 'Suggestions'),
        itemList(rec, { label: 'Recommendations', empty: 'No recommendations' }),
      ),
      h(
        'section',
        { 'aria-labelledby': 'again-title' },
        h('h4', { id: 'again-title' }, 'Buy it again'),
        itemList(c.buyAgain, {
          label: 'Buy it again',
          empty: 'Nothing to buy again',
          extra: (i) => (i.inStock === null ? null : h('span', { class: i.inStock ? 'stock yes' : 'stock no' }, i.inStock ? 'in stock' : 'not in stock')),
        }),
      ),
      h('section', { 'aria-labelledby': 'nbo-title' }, h('h4', { id: 'nbo-title' }, 'Next best offer'), offerPart(nbo)),
    ),
    h(
      'div',
      { class: 'cols' },
      h(
        'section',
        { 'aria-labelledby': 'ch-title' },
        h('h4', { id: 'ch-title' }, 'Channels'),
        table(['Channel', 'Orders', 'Spend'], Object.entries(c.channels).map(([k, v]) => [k, int.format(v.orders), money(v.spend)]), 'Orders and spend per channel'),
      ),
      h(
        'section',
        { 'aria-labelledby': 'consent-title' },
        h('h4', { id: 'consent-title' }, 'Consent'),
        h(
          'ul',
          { class: 'consent' },
          Object.entries(c.consent).map(([purpose, v]) =>
            h(
              'li',
              {},
              h('span', { class: v.granted ? 'yes' : 'no' }, v.granted ? 'Yes' : 'No'),
              ` ${purpose}`,
              h('span', { class: 'muted' }, v.basis === 'default' ? ' (not asked: default)' : ` (${v.source ?? 'recorded'}${v.at ? `, ${day(v.at)}` : ''})`),
            ),
          ),
        ),
      ),
      h(
        'section',
        { 'aria-labelledby': 'cat-title' },
        h('h4', { id: 'cat-title' }, 'Favourite categories'),
        c.favouriteCategories.length
          ? h('ol', { class: 'plain' }, c.favouriteCategories.map((f) => h('li', {}, `${f.category} (${f.orders} orders)`)))
          : h('p', { class: 'empty' }, 'No categories on record.'),
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'recent-title' },
      h('h4', { id: 'recent-title' }, 'Recent purchases'),
      c.recentPurchases.length
        ? table(['Date', 'Channel', 'Store', 'Sku', 'Product'], c.recentPurchases.map((p) => [day(p.date), p.channel, p.store ?? '—', p.sku, p.title ?? '—']), 'Last purchases across channels')
        : h('p', { class: 'empty' }, 'No purchases yet.'),
    ),
  );
}

function offerPart(nbo) {
  if (!nbo || !nbo.available) return h('p', { class: 'empty' }, `No offer: ${why(nbo?.reason ?? 'offers_not_configured')}.`);
  const offers = Array.isArray(nbo.offers) ? nbo.offers : [nbo.offer ?? nbo];
  return h(
    'ol',
    { class: 'items', 'aria-label': 'Offers' },
    offers.map((o) => h('li', {}, h('span', { class: 'title' }, o.title ?? o.offerId ?? 'Offer'), o.kind ? h('span', { class: 'sku' }, o.kind) : null, o.why ? h('span', { class: 'why' }, o.why) : null)),
  );
}

function table(head, rows, caption) {
  return h(
    'table',
    {},
    h('caption', { class: 'sr-only' }, caption),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))),
  );
}

// ---------- Products ----------
async function searchProducts(event) {
  event.preventDefault();
  const q = $('product-q').value.trim();
  if (!q) return;
  status('Searching…');
  try {
    const r = await api(`/v1/products?${new URLSearchParams({ q, limit: '20' })}`);
    const out = $('product-results');
    if (!r.items.length) {
      replace(out, h('p', { class: 'empty' }, 'No product matches.'));
      replace($('product-card'));
      status('No product matches.');
      return;
    }
    replace(
      out,
      h('ul', { class: 'results', 'aria-label': 'Products found' }, r.items.map((p) => h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => showProduct(p.sku) }, `${p.title ?? p.sku}`), h('span', { class: 'sku' }, p.sku)))),
    );
    status(`${r.items.length} products found.`);
    if (r.items.length === 1 || r.items[0].sku.toUpperCase() === q.toUpperCase()) await showProduct(r.items[0].sku);
  } catch (err) {
    status(explainError(err, 'Search failed'), 'error');
  }
}

async function showProduct(sku) {
  const store = $('product-store').value.trim();
  const q = new URLSearchParams({ limit: '8' });
  if (store) q.set('store', store);
  try {
    const p = await api(`/v1/products/${encodeURIComponent(sku)}?${q}`);
    const pick = (s) => void showProduct(s);
    replace(
      $('product-card'),
      h(
        'article',
        { class: 'card', 'aria-labelledby': 'product-title' },
        h('header', { class: 'card-head' }, h('h3', { id: 'product-title', tabindex: '-1' }, p.title ?? p.sku), h('span', { class: 'badge' }, p.sku), p.category ? h('span', { class: 'muted' }, p.category) : null, p.price !== null ? h('span', { class: 'muted' }, `price ${money(p.price)}`) : null),
        h(
          'div',
          { class: 'cols' },
          h('section', { 'aria-labelledby': 'sim-title' }, h('h4', { id: 'sim-title' }, 'Similar items'), itemList(p.similar, { label: 'Similar items', empty: 'No similar items', onPick: pick })),
          h('section', { 'aria-labelledby': 'fbt-title' }, h('h4', { id: 'fbt-title' }, 'Frequently bought together'), itemList(p.boughtTogether, { label: 'Frequently bought together', empty: 'Nothing bought with it', onPick: pick })),
          h(
            'section',
            { 'aria-labelledby': 'stock-title' },
            h('h4', { id: 'stock-title' }, 'In stock in'),
            p.stock.length
              ? table(['Store', 'Quantity'], p.stock.map((x) => [x.name ? `${x.name} (${x.storeId})` : x.storeId, x.quantity > 0 ? int.format(x.quantity) : 'out of stock']), 'Stock by store')
              : h('p', { class: 'empty' }, 'No stock on record in any store.'),
          ),
        ),
      ),
    );
    status(`Product ${p.sku}.`);
    $('product-title').focus();
  } catch (err) {
    status(explainError(err, `Product ${sku}`), 'error');
  }
}

// ---------- Models ----------
async function loadModels() {
  const out = $('models-list');
  try {
    const r = await api('/v1/admin/bundles');
    if (!r.bundles.length) {
      replace(out, h('p', { class: 'empty' }, 'No trained bundle in MODEL_DIR (npm run train).'));
      return;
    }
    replace(out, r.bundles.map((b) => bundleCard(b)));
  } catch (err) {
    replace(out, h('p', { class: 'empty' }, explainError(err, 'Model versions')));
  }
}

function bundleCard(b) {
  const state = b.current ? 'Live' : b.published ? 'Published' : 'Trained';
  const models = b.metrics?.models ?? null;
  const d = b.data ?? {};
  return h(
    'article',
    { class: `card model${b.current ? ' current' : ''}`, 'aria-label': `Version ${b.version}` },
    h(
      'header',
      { class: 'card-head' },
      h('h3', {}, b.version),
      h('span', { class: `badge state-${state.toLowerCase()}` }, state),
      h('span', { class: 'muted' }, `trained ${b.createdAt.replace('T', ' ').slice(0, 16)} · ${int.format(d.customers ?? 0)} customers · ${int.format(d.items ?? 0)} items · ${int.format(d.lines ?? 0)} lines`),
      b.current
        ? null
        : h('button', { type: 'button', class: 'publish', 'data-version': b.version, onclick: () => publish(b.version) }, `Publish ${b.version}`),
    ),
    models ? metricsChart(b.version, models, b.metrics.cutoff) : h('p', { class: 'empty' }, 'No evaluation figures (train with --evaluate).'),
  );
}

const METRICS = [
  ['discovery', 'ndcg@10', 'NDCG@10 new items'],
  ['discovery', 'recall@20', 'Recall@20 new items'],
  ['all', 'ndcg@10', 'NDCG@10 all items'],
];
const COLOURS = ['#2f6db5', '#79a7e0', '#d9822b'];

/** A grouped horizontal bar chart of the evaluation figures per model, in SVG, with the numbers as a table for screen readers. */
function metricsChart(version, models, cutoff) {
  const names = Object.keys(models);
  const max = Math.max(0.0001, ...names.flatMap((n) => METRICS.map(([p, m]) => models[n]?.[p]?.[m] ?? 0)));
  const labelW = 150;
  const barH = 9;
  const groupH = METRICS.length * barH + 10;
  const width = 640;
  const plotW = width - labelW - 60;
  const height = names.length * groupH + 28;
  const title = `Offline evaluation of ${version}${cutoff ? `, cutoff ${cutoff}` : ''}`;
  const bars = names.flatMap((n, g) => {
    const y0 = 24 + g * groupH;
    return [
      s('text', { x: labelW - 8, y: y0 + (METRICS.length * barH) / 2 + 4, 'text-anchor': 'end', class: 'axis' }, n),
      ...METRICS.map(([p, m], k) => {
        const v = models[n]?.[p]?.[m] ?? 0;
        const w = (v / max) * plotW;
        return s(
          'g',
          {},
          s('rect', { x: labelW, y: y0 + k * barH, width: Math.max(0.5, w), height: barH - 2, fill: COLOURS[k] }),
          s('text', { x: labelW + w + 4, y: y0 + k * barH + barH - 2, class: 'val' }, v.toFixed(3)),
        );
      }),
    ];
  });
  const legend = METRICS.map(([, , label], k) =>
    s('g', {}, s('rect', { x: labelW + k * 150, y: 4, width: 10, height: 10, fill: COLOURS[k] }), s('text', { x: labelW + k * 150 + 14, y: 13, class: 'axis' }, label)),
  );
  return h(
    'figure',
    { class: 'chart' },
    s('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': title }, s('title', {}, title), legend, bars),
    h('figcaption', { class: 'muted' }, title),
    h(
      'details',
      {},
      h('summary', {}, 'Figures as a table'),
      table(
        ['Model', ...METRICS.map(([, , l]) => l)],
        names.map((n) => [n, ...METRICS.map(([p, m]) => (models[n]?.[p]?.[m] ?? 0).toFixed(4))]),
        title,
      ),
    ),
  );
}

async function publish(version) {
  status(`Publishing ${version}…`);
  try {
    await api(`/v1/admin/models/${encodeURIComponent(version)}/publish`, { method: 'POST' });
    status(`Version ${version} is live.`);
  } catch (err) {
    status(explainError(err, `Publishing ${version}`), 'error');
  }
  await Promise.all([refreshLive(), loadModels()]);
}

async function rollbackModel() {
  status('Rolling back…');
  try {
    const r = await api('/v1/admin/models/rollback', { method: 'POST', body: {} });
    status(`Rolled back from ${r.from} to ${r.to}.`);
  } catch (err) {
    status(explainError(err, 'Rollback'), 'error');
  }
  await Promise.all([refreshLive(), loadModels()]);
}

// ---------- Offers ----------
const OFFER_TEMPLATE = {
  id: 'new-offer',
  title: '10% off tea',
  description: null,
  kind: 'percent_off',
  value: 5,
  cost: 1,
  targets: { skus: [], categories: ['Tea'] },
  channels: ['store', 'app'],
  stores: [],
  startsAt: null,
  endsAt: null,
  eligibility: { segments: ['loyal', 'vip'] },
  contact: { maxImpressions: 3, perDays: 30, suppressDaysAfterDecline: 14 },
  weight: 1,
};

async function loadOffers() {
  const out = $('offers-body');
  let list;
  try {
    list = (await api('/v1/admin/offers')).offers;
  } catch (err) {
    const missing = err instanceof ApiError && (err.status === 404 || err.status === 501);
    replace(out, h('p', { class: 'empty' }, missing ? 'Offers are not available on this service yet: the next-best-offer decision is not configured.' : explainError(err, 'Offers')));
    return;
  }
  let stats = null;
  try {
    stats = await api('/v1/admin/offer-stats');
  } catch {
    // acceptance figures are optional
  }
  replace(
    out,
    h('div', { class: 'row' }, h('button', { type: 'button', onclick: () => editOffer(OFFER_TEMPLATE) }, 'New offer')),
    list.length
      ? table(
          ['Offer', 'Kind', 'Value', 'Channels', 'Valid', ''],
          list.map((o) => [
            h('span', {}, h('strong', {}, o.title), ' ', h('span', { class: 'muted' }, o.id)),
            o.kind,
            money(o.value),
            o.channels.length ? o.channels.join(', ') : 'all',
            `${o.startsAt ? day(o.startsAt) : '…'} – ${o.endsAt ? day(o.endsAt) : '…'}`,
            h('button', { type: 'button', class: 'quiet', onclick: () => editOffer(o), 'aria-label': `Edit ${o.title}` }, 'Edit'),
          ]),
          'Offers',
        )
      : h('p', { class: 'empty' }, 'No offers yet.'),
    stats ? acceptanceTable(list, stats) : null,
    h(
      'form',
      { id: 'offer-form', class: 'card', hidden: true, onsubmit: saveOffer },
      h('h3', { id: 'offer-form-title', tabindex: '-1' }, 'Offer'),
      h('p', { class: 'help' }, 'The whole offer as JSON (the fields of PUT /v1/admin/offers/{id}); the service checks it and names any bad field.'),
      h('label', { for: 'offer-json' }, 'Offer (JSON)'),
      h('textarea', { id: 'offer-json', rows: '18', spellcheck: 'false' }),
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Save offer'), h('button', { type: 'button', class: 'quiet', onclick: () => ($('offer-form').hidden = true) }, 'Cancel')),
    ),
  );
}

/** Acceptance rate per offer and segment (accepted / impressions), from the response counts. */
function acceptanceTable(list, stats) {
  const cells = stats.cells ?? [];
  const segments = [...new Set(cells.map((c) => c.segment))].sort();
  if (!segments.length) return h('p', { class: 'empty' }, 'No responses to offers recorded yet.');
  const by = new Map();
  for (const c of cells) {
    const k = `${c.offerId}|${c.segment}`;
    const a = by.get(k) ?? { accepted: 0, impressions: 0 };
    a.accepted += c.accepted;
    a.impressions += c.impressions;
    by.set(k, a);
  }
  const rate = (a) => (a && a.impressions ? `${Math.round((100 * a.accepted) / a.impressions)}% (${a.accepted}/${a.impressions})` : '—');
  return h(
    'section',
    { 'aria-labelledby': 'acc-title' },
    h('h3', { id: 'acc-title' }, 'Acceptance by segment'),
    table(['Offer', ...segments.map((s) => SEGMENTS[s] ?? s)], list.map((o) => [o.title, ...segments.map((s) => rate(by.get(`${o.id}|${s}`)))]), 'Acceptance rate by offer and segment'),
  );
}

function editOffer(offer) {
  $('offer-form').hidden = false;
  $('offer-json').value = JSON.stringify(offer, null, 2);
  $('offer-form-title').textContent = offer === OFFER_TEMPLATE ? 'New offer' : `Edit ${offer.title}`;
  $('offer-json').focus();
}

async function saveOffer(event) {
  event.preventDefault();
  let offer;
  try {
    offer = JSON.parse($('offer-json').value);
  } catch (err) {
    status(`The offer is not valid JSON: ${err.message}`, 'error');
    return;
  }
  try {
    const saved = await api(`/v1/admin/offers/${encodeURIComponent(offer.id ?? '')}`, { method: 'PUT', body: offer });
    status(`Offer ${saved.id} saved.`);
    await loadOffers();
  } catch (err) {
    const fields = err instanceof ApiError && err.body?.fields ? ` (${err.body.fields.map((f) => `${f.field}: ${f.message}`).join('; ')})` : '';
    status(`${explainError(err, 'Saving the offer')}${fields}`, 'error');
  }
}

// ---------- start ----------
function start() {
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const key = $('key-input').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    $('key-input').value = '';
    route();
    void refreshLive();
    status('API key kept for this session.');
  });
  $('forget-key').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_STORAGE);
    route();
    status('API key forgotten.');
  });
  $('lookup-form').addEventListener('submit', lookup);
  $('product-form').addEventListener('submit', searchProducts);
  $('models-refresh').addEventListener('click', () => void Promise.all([refreshLive(), loadModels()]));
  $('models-rollback').addEventListener('click', rollbackModel);
  $('lookup-store').value = sessionStorage.getItem(STORE_STORAGE) ?? '';
  window.addEventListener('hashchange', route);
  route();
  void refreshLive();
}

start();
