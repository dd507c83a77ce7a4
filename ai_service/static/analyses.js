// LogLens analyses view: list analyses, open one, acknowledge/resolve it, add notes.
// Plain JS, no build. Talks to GET/PATCH /analyses and GET /traces/{id}; the URL hash keeps the
// view (#ask, #analyses, #analyses/<id>) so reloads and the browser's Back button work.
"use strict";

(() => {
  const byId = (id) => document.getElementById(id);

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === undefined || v === null || v === false) return;
      if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    children.flat().forEach((c) => {
      if (c === undefined || c === null || c === false) return;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    });
    return node;
  }

  // ------------------------------------------------------------------------------------------ time

  function parseTime(value) {
    if (!value) return null;
    const t = new Date(value);
    return Number.isNaN(t.getTime()) ? null : t;
  }

  function ago(value) {
    const t = parseTime(value);
    if (!t) return value ? String(value) : "–";
    let s = Math.round((Date.now() - t.getTime()) / 1000);
    const future = s < 0;
    s = Math.abs(s);
    if (s < 10) return "just now";
    let text;
    if (s < 60) text = `${s}s`;
    else if (s < 3600) text = `${Math.floor(s / 60)}m`;
    else if (s < 86400) text = `${Math.floor(s / 3600)}h`;
    else if (s < 86400 * 60) text = `${Math.floor(s / 86400)}d`;
    else return t.toISOString().slice(0, 10);
    return future ? `in ${text}` : `${text} ago`;
  }

  function absolute(value) {
    const t = parseTime(value);
    return t ? t.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC") : "";
  }

  function clockMs(value) {
    const t = parseTime(value);
    return t ? t.toISOString().slice(11, 23) : String(value || "–");
  }

  function timeEl(value, cls) {
    return h("time", { datetime: value || "", title: absolute(value), class: cls }, ago(value));
  }

  // ------------------------------------------------------------------------------------- helpers

  function serviceChip(name) {
    const text = name || "?";
    let hash = 0;
    for (const ch of text) hash = (hash * 31 + ch.charCodeAt(0)) % 360;
    return h("span", { class: "chip svc-chip", style: `--hue:${hash}` }, text);
  }

  function levelBadge(level) {
    return h("span", { class: `lvl ${level || ""}` }, level || "?");
  }

  function statusBadge(status) {
    return h("span", { class: `status-badge ${status || ""}` }, status || "?");
  }

  const kindLabel = (kind) => String(kind || "").replace(/_/g, " ");

  // ----------------------------------------------------------------------------------------- HTTP

  class ApiError extends Error {
    constructor(status, message, retryAfter) {
      super(message);
      this.status = status;
      this.retryAfter = retryAfter;
    }
  }

  async function api(path, options) {
    const headers = { Accept: "application/json" };
    const opts = Object.assign({ method: "GET" }, options || {});
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.body);
    }
    const key = byId("api-key").value.trim();
    if (key) {
      headers["X-API-Key"] = key;
      localStorage.setItem("loglens-api-key", key);
    }
    opts.headers = headers;
    let response;
    try {
      response = await fetch(path, opts);
    } catch (err) {
      throw new ApiError(0, `The LogLens service is not reachable (${err.message}).`);
    }
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) {
      const message = (body && body.error && body.error.message) || `${response.status} ${response.statusText}`;
      throw new ApiError(response.status, message, response.headers.get("Retry-After"));
    }
    return body;
  }

  function describe(err, what) {
    if (!(err instanceof ApiError)) return `Something went wrong: ${err.message}`;
    switch (err.status) {
      case 0: return err.message;
      case 401: return "API key needed: enter it in the “API key” field at the top, then press Refresh.";
      case 429: return `Rate limited: ${err.message}${err.retryAfter ? ` — try again in ${err.retryAfter} s` : ""}.`;
      case 503: return `LogLens cannot reach a dependency right now: ${err.message}`;
      case 404: return what === "list" ? "This LogLens service has no analyses API (404)." : err.message;
      default: return `${what === "list" ? "Could not load analyses" : "Request failed"}: ${err.message}`;
    }
  }

  function showError(err, what) {
    const box = byId("analyses-error");
    box.textContent = describe(err, what);
    box.hidden = false;
    const keyInput = byId("api-key");
    if (err instanceof ApiError && err.status === 401) {
      keyInput.classList.add("needs-key");
      keyInput.focus();
    }
  }

  function clearError() {
    byId("analyses-error").hidden = true;
    byId("api-key").classList.remove("needs-key");
  }

  // ----------------------------------------------------------------------------------------- list

  let lastList = [];
  let loading = null;

  async function loadList() {
    const params = new URLSearchParams({ limit: "50" });
    const status = byId("an-status").value;
    const service = byId("an-service").value.trim();
    const since = byId("an-since").value;
    if (status) params.set("status", status);
    if (service) params.set("service", service);
    if (since) params.set("since", since);
    const button = byId("an-refresh");
    button.disabled = true;
    clearError();
    const request = (loading = api(`/analyses?${params}`));
    try {
      const body = await request;
      if (loading !== request) return;
      lastList = (body && body.analyses) || [];
      byId("analyses-list-wrap").hidden = false;
      renderList(lastList);
      byId("an-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (loading !== request) return;
      renderList([]);
      byId("analyses-list-wrap").hidden = true;
      byId("an-updated").textContent = "";
      showError(err, "list");
    } finally {
      if (loading === request) button.disabled = false;
    }
  }

  function renderList(items) {
    const body = byId("analyses-list").querySelector("tbody");
    body.replaceChildren();
    items.forEach((a) => {
      const open = () => { location.hash = `#analyses/${encodeURIComponent(a.id)}`; };
      const row = h("tr", {
        class: "analysis-row", "data-id": a.id, tabindex: "0",
        onclick: open, onkeydown: (e) => { if (e.key === "Enter") open(); },
      },
      h("td", {}, statusBadge(a.status)),
      h("td", { class: "title-cell" },
        h("div", { class: "an-title", title: a.title || "" }, a.title || "(untitled)"),
        h("div", { class: "muted small" }, kindLabel(a.kind), " · ", h("code", {}, a.id))),
      h("td", {}, a.service ? serviceChip(a.service) : "–"),
      h("td", { class: "num" }, a.count ?? "–"),
      h("td", { class: "when" }, timeEl(a.last_seen)),
      h("td", { class: "when" }, timeEl(a.updated_at)));
      body.append(row);
    });
    byId("analyses-empty").hidden = items.length > 0;
  }

  // --------------------------------------------------------------------------------------- detail

  let current = null;

  async function loadDetail(id) {
    const box = byId("analysis-detail");
    clearError();
    box.replaceChildren(h("p", { class: "muted" }, "Loading analysis…"));
    try {
      current = await api(`/analyses/${encodeURIComponent(id)}`);
      renderDetail(current);
    } catch (err) {
      box.replaceChildren(backLink());
      showError(err, "detail");
    }
  }

  function backLink() {
    return h("a", { href: "#analyses", class: "back", id: "an-back" }, "← All analyses");
  }

  function section(title, ...content) {
    return h("section", { class: "an-section" }, h("h3", {}, title), ...content);
  }

  function kv(label, value) {
    return [h("dt", {}, label), h("dd", {}, value === undefined || value === null || value === "" ? "–" : value)];
  }

  function listOrDash(values, render) {
    if (!values || !values.length) return "–";
    return h("span", { class: "chips" }, values.map((v) => (render ? render(v) : h("span", { class: "chip" }, v))));
  }

  function renderDetail(a) {
    const box = byId("analysis-detail");
    const what = a.what || {};
    const where = a.where || {};
    const related = a.related || {};
    const win = what.window || {};

    const actions = h("div", { class: "an-actions" },
      h("button", {
        id: "an-ack", type: "button", class: "btn warn",
        disabled: a.status === "acknowledged" || a.status === "resolved",
        onclick: () => patch({ status: "acknowledged" }, "Acknowledged"),
      }, "Acknowledge"),
      h("button", {
        id: "an-resolve", type: "button", class: "btn ok", disabled: a.status === "resolved",
        onclick: () => patch({ status: "resolved" }, "Resolved"),
      }, "Resolve"),
      a.status !== "open" ? h("button", {
        id: "an-reopen", type: "button", class: "btn ghost",
        onclick: () => patch({ status: "open" }, "Reopened"),
      }, "Reopen") : null);

    const head = h("div", { class: "an-head" },
      h("div", {},
        h("h2", { id: "an-title" }, a.title || "(untitled)"),
        h("div", { class: "muted small" },
          h("span", { id: "an-status-badge" }, statusBadge(a.status)), " ",
          kindLabel(a.kind), " · id ", h("code", {}, a.id),
          " · created ", timeEl(a.created_at), " · updated ", timeEl(a.updated_at))),
      actions);

    const whatSection = section("What",
      what.template ? h("pre", { class: "template" }, what.template) : null,
      h("dl", { class: "kv" },
        kv("Level", what.level ? levelBadge(what.level) : "–"),
        kv("Events", `${what.count ?? "–"}${typeof what.rate_per_min === "number" ? ` (${what.rate_per_min.toFixed(2).replace(/\.?0+$/, "")}/min)` : ""}`),
        kv("First seen", what.first_seen ? [timeEl(what.first_seen), h("span", { class: "muted small" }, ` ${absolute(what.first_seen)}`)] : "–"),
        kv("Last seen", what.last_seen ? [timeEl(what.last_seen), h("span", { class: "muted small" }, ` ${absolute(what.last_seen)}`)] : "–"),
        kv("Window", win.since || win.until ? `${absolute(win.since) || "…"} → ${absolute(win.until) || "now"}` : "–"),
        kv("Template", what.template_id ? h("code", {}, what.template_id) : "–")));

    const whereSection = section("Where",
      h("dl", { class: "kv" },
        kv("Services", listOrDash(where.services, serviceChip)),
        kv("Hosts", listOrDash(where.hosts)),
        kv("Versions", listOrDash(where.versions)),
        kv("Slots", listOrDash(where.slots))));

    const origins = [...(a.suspected_origin || [])].sort((x, y) => (x.rank ?? 1e9) - (y.rank ?? 1e9));
    const originSection = section("Suspected origin",
      origins.length
        ? h("ol", { class: "origins", id: "an-origins" }, origins.map((o, i) => h("li", { class: i === 0 ? "top" : "" },
          h("div", { class: "origin-head" },
            h("span", { class: "rank" }, `#${o.rank ?? i + 1}`), serviceChip(o.service),
            o.template_id ? h("code", { class: "muted small" }, o.template_id) : null),
          (o.reasons || []).length ? h("ul", { class: "reasons" }, o.reasons.map((r) => h("li", {}, r))) : null)))
        : h("p", { class: "muted" }, "No origin suspected yet."));

    const steps = a.next_steps || [];
    const stepsSection = steps.length
      ? section("Next steps", h("ol", { class: "steps" }, steps.map((s) => h("li", {}, s))))
      : null;

    const narrative = a.narrative
      ? section("Narrative", h("p", { class: "narrative", id: "an-narrative" }, a.narrative),
        a.narrative_model ? h("div", { class: "muted small" }, `written by ${a.narrative_model}`) : null)
      : null;

    const timeline = [...(related.timeline || [])]
      .sort((x, y) => String(x["@timestamp"] || "").localeCompare(String(y["@timestamp"] || "")));
    const timelineSection = section(`Timeline (${timeline.length})`,
      timeline.length
        ? h("ol", { class: "timeline", id: "an-timeline" }, timeline.map((e) => h("li", { class: `tl ${e.level || ""}` },
          h("details", { "data-id": e.id },
            h("summary", {},
              h("span", { class: "ts mono", title: absolute(e["@timestamp"]) }, clockMs(e["@timestamp"])),
              serviceChip(e.service), levelBadge(e.level),
              h("span", { class: "tl-msg" }, e.message || "")),
            h("div", { class: "tl-body" },
              h("pre", { class: "tl-full" }, e.message || ""),
              h("div", { class: "muted small" }, absolute(e["@timestamp"]), " · id ", h("code", {}, e.id)))))))
        : h("p", { class: "muted" }, "No related events."));

    const causes = related.causes || [];
    const frames = related.top_frames || [];
    const causeSection = causes.length || frames.length
      ? section("Exceptions",
        causes.length ? h("ul", { class: "causes" }, causes.map((c) => h("li", {}, h("code", {}, c.class || "?"), c.message ? `: ${c.message}` : ""))) : null,
        frames.length ? h("pre", { class: "stack" }, frames.map((f) => `at ${f}`).join("\n")) : null)
      : null;

    const traces = related.trace_ids || [];
    const traceBox = h("div", { id: "an-trace" });
    const traceSection = traces.length
      ? section(`Traces (${traces.length})`,
        h("div", { class: "chips" }, traces.slice(0, 20).map((t) => h("button", {
          type: "button", class: "chip trace-chip", title: "show every event of this trace",
          onclick: () => loadTrace(t, traceBox),
        }, t))), traceBox)
      : null;

    const evidence = a.evidence || [];
    const evidenceSection = section(`Evidence (${evidence.length})`,
      evidence.length
        ? h("details", { class: "evidence", open: evidence.length <= 12 },
          h("summary", {}, `${evidence.length} event id${evidence.length === 1 ? "" : "s"}`),
          h("div", { class: "chips mono", id: "an-evidence" }, evidence.map((e) => h("code", { class: "chip" }, e))))
        : h("p", { class: "muted" }, "None."));

    const reuse = a.reuse || {};
    const reuseLine = reuse.seen
      ? h("p", { class: "muted small reuse" },
        `Seen ${reuse.seen} time${reuse.seen === 1 ? "" : "s"}`,
        reuse.since ? [" since ", timeEl(reuse.since)] : null,
        reuse.first_in ? ` · first in ${reuse.first_in}` : null)
      : null;

    const notes = a.notes || [];
    const noteForm = h("form", { class: "note-form", onsubmit: (e) => {
      e.preventDefault();
      const text = byId("an-note").value.trim();
      if (text) patch({ note: text }, "Note added");
    } },
    h("textarea", { id: "an-note", rows: "2", maxlength: "2000", placeholder: "Add a note for the next person on call…" }),
    h("button", { id: "an-add-note", type: "submit", class: "btn" }, "Add note"));
    const notesSection = section(`Notes (${notes.length})`,
      notes.length
        ? h("ul", { class: "notes", id: "an-notes" }, notes.map((n) => h("li", {}, timeEl(n.at, "muted small"), " ", h("span", {}, n.text))))
        : null,
      noteForm);

    // replaceChildren() would print a null as the text "null": drop the absent sections first.
    box.replaceChildren(...[
      backLink(), head,
      h("div", { id: "an-flash", class: "flash", hidden: true }),
      h("div", { class: "grid2" }, whatSection, whereSection),
      originSection, stepsSection, narrative, timelineSection, causeSection, traceSection,
      evidenceSection, reuseLine, notesSection,
    ].filter(Boolean));
  }

  async function patch(body, done) {
    if (!current) return;
    const buttons = byId("analysis-detail").querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    clearError();
    try {
      current = await api(`/analyses/${encodeURIComponent(current.id)}`, { method: "PATCH", body });
      renderDetail(current);
      const flash = byId("an-flash");
      flash.textContent = done;
      flash.hidden = false;
      setTimeout(() => { flash.hidden = true; }, 2500);
    } catch (err) {
      showError(err, "detail");
      if (current) renderDetail(current);
    }
  }

  async function loadTrace(traceId, box) {
    box.replaceChildren(h("p", { class: "muted" }, `Loading trace ${traceId}…`));
    try {
      const t = await api(`/traces/${encodeURIComponent(traceId)}`);
      const events = [...(t.events || [])]
        .sort((x, y) => String(x["@timestamp"] || "").localeCompare(String(y["@timestamp"] || "")));
      box.replaceChildren(
        h("p", { class: "muted small" }, `trace ${t.trace_id} · ${(t.services || []).join(", ")} · ${events.length} events`),
        h("table", { class: "trace" },
          h("thead", {}, h("tr", {}, ["Time", "Service", "Level", "Message"].map((c) => h("th", {}, c)))),
          h("tbody", {}, events.map((e) => h("tr", {},
            h("td", { class: "mono" }, clockMs(e["@timestamp"])), h("td", {}, serviceChip(e.service)),
            h("td", {}, levelBadge(e.level)),
            h("td", {}, e.message || "", e.exception_class ? h("code", { class: "muted small" }, ` ${e.exception_class}`) : null))))));
    } catch (err) {
      box.replaceChildren(h("p", { class: "error" }, describe(err, "trace")));
    }
  }

  // --------------------------------------------------------------------------------------- routing

  function setTab(name) {
    const analyses = name !== "ask";
    byId("ask-view").hidden = analyses;
    byId("analyses-view").hidden = !analyses;
    [["tab-ask", !analyses], ["tab-analyses", analyses]].forEach(([id, on]) => {
      const tab = byId(id);
      tab.classList.toggle("active", on);
      tab.setAttribute("aria-selected", String(on));
    });
  }

  function route() {
    const hash = decodeURIComponent(location.hash.replace(/^#/, ""));
    if (!hash.startsWith("analyses")) {
      setTab("ask");
      return;
    }
    setTab("analyses");
    const id = hash.startsWith("analyses/") ? hash.slice("analyses/".length) : "";
    byId("analyses-filters").hidden = Boolean(id);
    byId("analyses-list-wrap").hidden = Boolean(id);
    byId("analysis-detail").hidden = !id;
    if (id) loadDetail(id);
    else {
      current = null;
      loadList();
    }
  }

  byId("tab-ask").addEventListener("click", () => { location.hash = "#ask"; });
  byId("tab-analyses").addEventListener("click", () => {
    if (location.hash.startsWith("#analyses")) route();
    else location.hash = "#analyses";
  });
  byId("analyses-filters").addEventListener("submit", (e) => { e.preventDefault(); loadList(); });
  ["an-status", "an-since"].forEach((id) => byId(id).addEventListener("change", loadList));
  byId("an-service").addEventListener("change", loadList);
  // A key typed after a 401 is tried at once.
  byId("api-key").addEventListener("change", () => { if (!byId("analyses-view").hidden) route(); });
  window.addEventListener("hashchange", route);
  // Relative times stay true while the page is open.
  setInterval(() => {
    document.querySelectorAll("#analyses-view time[datetime]").forEach((t) => {
      t.textContent = ago(t.getAttribute("datetime"));
    });
  }, 30000);
  route();
})();
