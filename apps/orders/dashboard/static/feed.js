// The live feed: one EventSource on /api/feed for the whole dashboard, opened with a
// short-lived token and resumed after the last position it delivered, the badge of unseen
// events, and the Live feed page. Uses app.js's state and helpers (h, api, page, ...).
"use strict";

const FEED_KEEP = 200;

async function startFeed() {
  if (state.feedSource) return;
  try {
    state.feedHead = (await api("/api/store/summary")).head;
  } catch { state.feedHead = null; }
  // EventSource sends no headers: the feed opens with a short-lived token, asked for with the key.
  let token;
  try {
    token = (await api("/api/feed/token", { method: "POST" })).token;
  } catch { setFeedStatus("closed"); return; }
  // Reopened with a new token, the feed resumes after the last position it delivered.
  const resume = state.feedPosition ? `&last_event_id=${encodeURIComponent(state.feedPosition)}` : "";
  const source = new EventSource(`/api/feed?token=${encodeURIComponent(token)}${resume}`);
  source.addEventListener("open", () => setFeedStatus("live"));
  source.addEventListener("error", () => {
    if (source.readyState !== EventSource.CLOSED) { setFeedStatus("reconnecting"); return; }
    // Refused (an expired token, a revoked key) or closed: open again with a new token.
    setFeedStatus("reconnecting");
    source.close();
    if (state.feedSource === source) state.feedSource = null;
    setTimeout(() => { if (keyInput.value && !state.feedSource) startFeed(); }, 2000);
  });
  source.addEventListener("event", (message) => {
    let item;
    try { item = JSON.parse(message.data); } catch { return; }
    if (state.feedIds.has(item.id)) return; // a reconnection sends the recent items again
    state.feedIds.add(item.id);
    state.feed.unshift(item);
    if (state.feed.length > FEED_KEEP) state.feedIds.delete(state.feed.pop().id);
    if (!state.feedPosition || comparePositions(item.position, state.feedPosition) > 0) state.feedPosition = item.position;
    const isNew = state.feedHead === null || comparePositions(item.position, state.feedHead) > 0;
    const list = document.getElementById("feed-list");
    if (list) {
      document.getElementById("feed-empty")?.remove();
      list.prepend(feedItem(item, isNew));
      while (list.children.length > FEED_KEEP) list.lastElementChild.remove();
    } else if (isNew) {
      state.unseen += 1;
      const badge = document.getElementById("feed-badge");
      badge.hidden = false;
      badge.textContent = state.unseen > 99 ? "99+" : state.unseen;
    }
    if (isNew && state.onFeed) state.onFeed(item);
  });
  state.feedSource = source;
}

function setFeedStatus(status) {
  state.feedStatus = status;
  const text = { connecting: "Connecting…", live: "Connected", reconnecting: "Reconnecting…", closed: "Disconnected" }[status];
  for (const el of document.querySelectorAll("[data-feed-status]")) {
    el.dataset.feedStatus = status;
    el.textContent = text;
  }
  const dot = document.getElementById("feed-dot");
  dot.dataset.state = status;
  dot.title = `Live feed: ${text.toLowerCase()}`;
}

function feedItem(item, isNew = false) {
  return h("li", { "data-stream": item.stream, "data-event-id": item.id, class: isNew ? "new" : null },
    time(item.recorded_at, { class: "muted small when" }),
    h("span", { class: `event-type ${eventKind(item.type)}` }, item.type),
    streamLink(item.stream, orderOfStream(item.stream) ?? item.stream),
    h("span", { class: "muted small" }, `v${item.version}`),
    h("span", { class: "spacer" }),
    item.actor ? h("span", { class: "muted small" }, item.actor) : null,
    h("span", { class: "muted small mono" }, `#${item.position}`));
}

function feedPage() {
  state.unseen = 0;
  document.getElementById("feed-badge").hidden = true;
  const status = h("span", { class: "status-dot", "data-feed-status": state.feedStatus });
  page("Live feed",
    h("div", { class: "lead" }, h("span", { class: "muted" }, "Events appear here the moment they are committed. "), status),
    h("section", { class: "card flush" },
      h("ul", { class: "feed", id: "feed-list" }, state.feed.map((item) => feedItem(item))),
      state.feed.length ? null : h("div", { class: "empty", id: "feed-empty" }, "No events yet. They will appear here as orders change.")));
  setFeedStatus(state.feedStatus);
}
