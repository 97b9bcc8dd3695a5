// Shelf's first-party tracker (ADR 0017): small, no dependencies, nothing sent to anyone else.
// Its settings are the data attributes of its own <script> tag (web/storefront/tracking.py):
// the endpoint, the page's form token, the consent state, and what the page shows (a product,
// a search). It sends $pageview on every page, product_viewed, search, and add_to_cart when a cart
// form is submitted. Events are queued and sent together with navigator.sendBeacon: after a
// short pause, when the queue is full, and when the page is hidden or left (a beacon outlives
// the page, so the cart form's normal POST is not held up). Nothing at all is sent under
// Do-Not-Track or Global Privacy Control, or without consent. Who the visitor is, the server
// decides from its shopper cookie; the tracker's distinct id is the server's, for show only.
"use strict";

(() => {
  const tag = document.querySelector("script[data-shelf-tracker]");
  if (!tag) return;
  const config = tag.dataset;
  const refused = config.dnt === "1" || navigator.doNotTrack === "1" || window.doNotTrack === "1"
    || navigator.globalPrivacyControl === true;
  if (refused || config.consent !== "granted") return;

  const FLUSH_AFTER_MS = 1000;
  const MAX_QUEUE = 20;
  const queue = [];
  let timer = 0;

  const uuid = () => {  // v4; crypto.randomUUID needs a secure context, getRandomValues does not
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };

  function flush() {
    window.clearTimeout(timer);
    timer = 0;
    while (queue.length) {
      const now = Date.now();
      const batch = queue.splice(0, MAX_QUEUE).map((item) => ({
        event: item.event, uuid: item.uuid, offset: now - item.at, properties: item.properties,
      }));
      const body = new URLSearchParams({ csrf_token: config.token, batch: JSON.stringify(batch) });
      if (!(navigator.sendBeacon && navigator.sendBeacon(config.endpoint, body))) {
        fetch(config.endpoint, { method: "POST", body, keepalive: true, credentials: "same-origin" })
          .catch(() => {});  // analytics never disturbs the shopper
      }
    }
  }

  function capture(event, properties) {
    queue.push({
      event,
      uuid: uuid(),
      at: Date.now(),
      properties: {
        distinct_id: config.distinctId,  // ignored by the server, which knows better
        $current_url: location.href,
        $pathname: location.pathname,
        $referrer: document.referrer || "$direct",
        $screen_width: screen.width,
        ...properties,
      },
    });
    if (queue.length >= MAX_QUEUE) flush();
    else if (!timer) timer = window.setTimeout(flush, FLUSH_AFTER_MS);
  }

  capture("$pageview", { $title: document.title });
  if (config.productId) {
    capture("product_viewed", {
      product_id: config.productId, sku: config.sku, price: config.price, currency: config.currency,
    });
  }
  if (config.searchQuery !== undefined) {
    capture("search", {
      query: config.searchQuery,
      result_count: Number(config.searchResults),
      more_results: config.searchMore === "1",
    });
  }

  // Registered after shelf.js's handler: a second, suppressed click on the same form is not counted.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement)) return;
    if (new URL(form.action, location.href).pathname !== "/cart/items") return;
    const productId = form.elements.namedItem("product_id");
    const quantity = form.elements.namedItem("quantity");
    const count = quantity ? Number.parseInt(quantity.value, 10) : 1;
    capture("add_to_cart", {
      product_id: productId ? productId.value : null,
      quantity: Number.isFinite(count) && count > 0 ? count : 1,
    });
    flush();  // now: the form's POST is about to leave the page
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flush();
  });
  window.addEventListener("pagehide", flush);
})();
