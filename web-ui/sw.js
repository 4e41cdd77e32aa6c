// Cellsight's service worker: after the first visit the dashboard (and its emulator) opens
// without a network. The page itself is fetched network-first, so a new build is picked up as
// soon as the server is reachable; everything else the page names (trunk's hashed wasm, JS and
// CSS, plotly.js) is served from the cache first. Only this origin's files are ever cached.
const CACHE = 'cellsight-app';

// Files the app loads by name rather than through index.html: the emulator's Web Worker and
// plotly.js.
const EXTRA = [
  'emulator_worker_loader.js',
  'emulator_worker.js',
  'emulator_worker_bg.wasm',
  'plotly-basic.min.js',
];

// trunk's content-hashed names never change content: those are served cache-first. Anything
// else (the worker, plotly.js) is fetched network-first, so an update is never hidden.
const HASHED = /-[0-9a-f]{16}(_bg)?\.(js|wasm|css)$/;

// The files index.html names, as absolute URLs on this origin.
function assetsOf(html, base) {
  const urls = new Set();
  for (const m of html.matchAll(/\b(?:href|src)="([^"#]+)"/g)) {
    const url = new URL(m[1], base);
    if (url.origin === self.location.origin) urls.add(url.href);
  }
  return [...urls];
}

// Fetches the page and everything it names into the cache; drops what it no longer names.
async function cacheApp() {
  const scope = self.registration.scope;
  const response = await fetch(scope, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`index: HTTP ${response.status}`);
  const html = await response.clone().text();
  const assets = [...assetsOf(html, scope), ...EXTRA.map((name) => new URL(name, scope).href)];
  const cache = await caches.open(CACHE);
  await cache.put(scope, response);
  await cache.addAll(assets);
  const keep = new Set([scope, ...assets]);
  for (const request of await cache.keys()) {
    if (!keep.has(request.url)) await cache.delete(request);
  }
}

// The network's answer (cached under `key`), or the cached one when offline.
function networkFirst(request, key) {
  return fetch(request)
    .then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(key, copy));
      }
      return response;
    })
    .catch(async () => (await caches.match(key, { ignoreSearch: true })) ?? Response.error());
}

self.addEventListener('install', (event) => {
  event.waitUntil(cacheApp().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    // The page: the network's if reachable (and cache it), else the cached one. The query
    // (?scenario=…, ?replay=…) is read by the app, so any query gets the same page.
    event.respondWith(networkFirst(request, self.registration.scope));
    return;
  }
  if (!HASHED.test(url.pathname)) {
    event.respondWith(networkFirst(request, url.origin + url.pathname));
    return;
  }
  event.respondWith(
    caches.match(request, { ignoreSearch: true }).then(
      (cached) =>
        cached ??
        fetch(request).then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        }),
    ),
  );
});
