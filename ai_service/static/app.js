// LogLens chat page: posts /ask with stream=true and renders the server-sent events as they come.
"use strict";

const $ = (id) => document.getElementById(id);
// One conversation per page load, so follow-up questions keep the previous scope.
const conversationId = `ui-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearResult() {
  $("error").hidden = true;
  $("answer").textContent = "";
  $("citations").innerHTML = "";
  $("searched").textContent = "";
  $("cache-badge").hidden = true;
  $("result").hidden = false;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => { if (v !== undefined && v !== null) node.setAttribute(k, v); });
  children.forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c ?? ""))));
  return node;
}

function renderCitations(citations) {
  const list = $("citations");
  list.innerHTML = "";
  citations.forEach((c, i) => {
    const ev = c.event || {};
    const summary = el("summary", {},
      el("span", { class: `lvl ${c.level || ""}` }, c.level || "?"), " ",
      el("span", { class: "svc" }, c.service || "?"), " ",
      el("span", { class: "ts" }, c["@timestamp"] || ""), " — ", c.excerpt);
    const body = el("div", {});
    if (ev.stack_trace) {
      body.append(el("div", { class: "ts" }, "Stack trace"), el("pre", { class: "stack" }, ev.stack_trace));
    }
    const shown = Object.assign({}, ev);
    delete shown.stack_trace;
    body.append(el("pre", { class: "event" }, JSON.stringify(shown, null, 2)));
    const details = el("details", { class: "citation", "data-id": c.id }, summary, body);
    list.append(el("li", { id: `cite-${i + 1}` }, details));
  });
}

async function readErrorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error.message;
  } catch (_) { /* not JSON */ }
  return `${response.status} ${response.statusText}`;
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) { showError("Type a question first."); return; }
  const payload = { question, stream: true, conversation_id: conversationId };
  if ($("since").value) payload.since = $("since").value;
  const service = $("service").value.trim();
  if (service) payload.service = service;
  clearResult();
  $("ask-button").disabled = true;
  try {
    const headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    const key = $("api-key").value.trim();
    if (key) {
      headers["X-API-Key"] = key;
      localStorage.setItem("loglens-api-key", key);
    }
    const response = await fetch("/ask", {
      method: "POST",
      headers,
      body: JSON.stringify(payload),
    });
    if (!response.ok) {
      const message = await readErrorMessage(response);
      if (response.status === 401) showError(`API key needed: ${message}`);
      else if (response.status === 429) showError(`Rate limited: ${message}`);
      else if (response.status === 503) showError(`LogLens cannot reach a dependency right now: ${message}`);
      else showError(message);
      $("result").hidden = true;
      return;
    }
    await consumeStream(response);
  } catch (err) {
    showError(`The LogLens service is not reachable (${err.message}).`);
    $("result").hidden = true;
  } finally {
    $("ask-button").disabled = false;
  }
}

async function consumeStream(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      handleEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
    }
  }
}

function handleEvent(block) {
  let name = "message";
  const data = [];
  block.split("\n").forEach((line) => {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trim());
  });
  const payload = data.length ? JSON.parse(data.join("\n")) : {};
  if (name === "meta") {
    $("model").textContent = `answered by: ${payload.model}`;
    $("searched").textContent = JSON.stringify(payload.searched, null, 2);
    if (payload.cache && payload.cache.hit) {
      const badge = $("cache-badge");
      badge.textContent = `cached — from "${payload.cache.source_question}"`;
      badge.hidden = false;
    }
  } else if (name === "answer") {
    $("answer").textContent += payload.text;
  } else if (name === "citations") {
    renderCitations(payload);
  } else if (name === "error") {
    showError(payload.message || "error");
  }
}

async function checkStatus() {
  const badge = $("status");
  try {
    const r = await fetch("/readyz");
    badge.textContent = r.ok ? "ready" : "not ready";
    badge.className = `status ${r.ok ? "ok" : "down"}`;
  } catch (_) {
    badge.textContent = "unreachable";
    badge.className = "status down";
  }
}

$("ask-form").addEventListener("submit", ask);
$("api-key").value = localStorage.getItem("loglens-api-key") || "";
checkStatus();
setInterval(checkStatus, 15000);
