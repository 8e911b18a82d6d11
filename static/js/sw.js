// The service worker. Static files are cached by their content hash (their names carry it:
// app.<10 hex digits>.css), so a repeat visit loads them from the phone; a page that cannot be loaded offline
// shows the offline page, in the language it was cached in. Pages with personal data are never
// cached here, and logging out clears every cache (Clear-Site-Data on the logout answer).
const VERSION = "1";
const STATIC = `tod-static-${VERSION}`;
const OFFLINE = `tod-offline-${VERSION}`;
const OFFLINE_URL = "/offline";
// What app/web.py's static_url() names: the content hash before the extension.
const HASHED = /^\/static\/.+\.[0-9a-f]{10}\.[A-Za-z0-9]+$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(OFFLINE)
      .then((cache) => cache.add(new Request(OFFLINE_URL, { cache: "reload" })))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(keys.filter((k) => k !== STATIC && k !== OFFLINE).map((k) => caches.delete(k))),
      )
      .then(() => self.clients.claim()),
  );
});

async function fromCacheFirst(request) {
  const cache = await caches.open(STATIC);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) cache.put(request, response.clone());
  return response;
}

async function pageOrOffline(request) {
  try {
    return await fetch(request);
  } catch (err) {
    const offline = await caches.match(OFFLINE_URL);
    if (offline) return offline;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (HASHED.test(url.pathname)) {
    event.respondWith(fromCacheFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(pageOrOffline(request));
  }
});
