// ragline chat page: no build step. Document text goes into the page through textContent
// only. Answers are Markdown: rendered by marked, then sanitized by DOMPurify into a DOM
// fragment (never innerHTML of unsanitized text), so a document or an answer containing
// <script> or <img onerror=...> cannot run anything. Both libraries are vendored (static/vendor).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { history: [] };
const MARKER = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function headers(extra) {
  const key = $("api-key").value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : { ...extra };
}

async function errorMessage(response) {
  const body = await response.json().catch(() => ({}));
  return (body.error && body.error.message) || `request failed (${response.status})`;
}

async function loadCollections(select) {
  const picker = $("collection");
  const wanted = select || picker.value;
  const response = await fetch("/v1/collections", { headers: headers() });
  if (!response.ok) {
    $("empty").textContent = await errorMessage(response);
    $("empty").hidden = false;
    return;
  }
  const body = await response.json();
  picker.replaceChildren();
  for (const c of body.data || []) {
    const option = el("option", `${c.name} (${c.documents} docs)`);
    option.value = c.name;
    picker.append(option);
  }
  if (wanted && [...picker.options].some((o) => o.value === wanted)) picker.value = wanted;
  $("empty").hidden = picker.options.length > 0;
  if (!$("upload-collection").value) $("upload-collection").value = picker.value || "uploads";
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
// Raw HTML in an answer (often quoted from a document) is shown as text, not interpreted;
// DOMPurify below is the second line of defence.
window.marked.use({
  renderer: { html({ text }) { return text.replace(/[&<>"']/g, (c) => ESCAPES[c]); } },
});

const SANITIZE = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ["style", "img", "form", "input", "button", "iframe", "svg", "math"],
  FORBID_ATTR: ["style"],
};

// The answer as sanitized Markdown, its [n] markers turned into links to the sources.
function renderAnswer(node, text, citations, list) {
  const html = window.marked.parse(text || "", { async: false, gfm: true });
  const fragment = window.DOMPurify.sanitize(html, SANITIZE);
  for (const a of fragment.querySelectorAll("a[href]")) {
    a.rel = "noopener noreferrer nofollow";
    a.target = "_blank";
  }
  linkMarkers(fragment, new Set((citations || []).map((c) => c.number)), list);
  node.replaceChildren(fragment);
}

function linkMarkers(root, numbers, list) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement?.closest("code, pre")) texts.push(walker.currentNode);
  }
  for (const textNode of texts) {
    const value = textNode.nodeValue;
    if (!MARKER.test(value)) continue;
    MARKER.lastIndex = 0;
    const parts = document.createDocumentFragment();
    let last = 0;
    for (const match of value.matchAll(MARKER)) {
      parts.append(document.createTextNode(value.slice(last, match.index)), "[");
      match[1].split(",").map((n) => Number(n.trim())).forEach((n, i) => {
        if (i) parts.append(", ");
        if (!numbers.has(n)) { parts.append(String(n)); return; }
        const link = el("a", String(n), "cite");
        link.href = "#";
        link.addEventListener("click", (event) => {
          event.preventDefault();
          const details = list.querySelector(`li[data-number="${n}"] details`);
          if (details) { details.open = true; details.scrollIntoView({ block: "nearest" }); }
        });
        parts.append(link);
      });
      parts.append("]");
      last = match.index + match[0].length;
    }
    parts.append(document.createTextNode(value.slice(last)));
    textNode.replaceWith(parts);
  }
}

// Every source the answer was based on, cited or not (older answers: the cited ones).
function renderCitations(list, citations, sources) {
  list.replaceChildren();
  const cited = new Set((citations || []).map((c) => c.number));
  for (const c of sources && sources.length ? sources : citations || []) {
    const item = el("li", undefined, cited.has(c.number) ? "cited" : "not-cited");
    item.value = c.number;
    item.dataset.number = String(c.number);
    const details = el("details");
    const name = c.file_name || c.source || "source";
    const summary = el("summary");
    summary.append(el("span", name, "file"));
    if (c.page) summary.append(el("span", ` page ${c.page}`, "page"));
    if (!cited.has(c.number)) summary.append(el("span", " (not cited)", "page"));
    details.append(summary, el("div", c.snippet || c.text || "", "snippet"));
    item.append(details);
    list.append(item);
  }
}

const GUARD = {
  empty: "the model gave no answer",
  citations_only: "the model answered with citation numbers only",
  example_copy: "the model repeated an example instead of answering",
  prompt_copy: "the model repeated its instructions instead of answering",
};

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy answer"; }, 1500);
}

function* sseEvents(buffer) {
  let cut;
  while ((cut = buffer.text.indexOf("\n\n")) >= 0) {
    const event = buffer.text.slice(0, cut);
    buffer.text = buffer.text.slice(cut + 2);
    for (const line of event.split("\n")) {
      if (line.startsWith("data: ")) yield line.slice(6);
    }
  }
}

async function ask(question) {
  const turn = $("answer-template").content.firstElementChild.cloneNode(true);
  turn.querySelector(".question").textContent = question;
  const text = turn.querySelector(".text");
  const list = turn.querySelector(".citations");
  const meta = turn.querySelector(".meta");
  const copyButton = turn.querySelector(".copy");
  copyButton.addEventListener("click", () => copy(text.textContent, copyButton));
  turn.classList.add("streaming");
  $("conversation").append(turn);
  turn.scrollIntoView({ block: "end" });
  const messages = [...state.history, { role: "user", content: question }];
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({
      model: $("collection").value, messages, stream: true, mode: $("mode").value,
    }),
  });
  if (!response.ok) {
    text.textContent = await errorMessage(response);
    text.classList.add("error");
    turn.classList.remove("streaming");
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const buffer = { text: "" };
  let answer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer.text += decoder.decode(value, { stream: true });
    for (const data of sseEvents(buffer)) {
      if (data === "[DONE]") continue;
      const chunk = JSON.parse(data);
      if (chunk.error) {
        text.textContent = chunk.error.message;
        text.classList.add("error");
        continue;
      }
      const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
      if (delta && delta.content) {
        answer += delta.content;
        renderAnswer(text, answer, [], list);
      }
      if (chunk.ragline) {
        const record = chunk.ragline;
        answer = record.answer ?? answer;
        renderCitations(list, chunk.citations, record.sources);
        renderAnswer(text, answer, chunk.citations, list);
        turn.querySelector(".cached").hidden = !record.cached;
        const extractive = turn.querySelector(".extractive-badge");
        extractive.hidden = !record.extractive;
        extractive.title = record.guard
          ? `${GUARD[record.guard]}: these are the sources' best-matching sentences, quoted`
          : "the sources' best-matching sentences, quoted (no model)";
        turn.querySelector(".uncited-badge").hidden = !record.uncited;
        const beside = turn.querySelector(".beside");
        beside.hidden = !(record.uncited && record.extractive_answer);
        if (!beside.hidden) {
          renderAnswer(beside.querySelector(".text"), record.extractive_answer, chunk.citations, list);
        }
        const parts = [record.model_id, `${Math.round(record.total_ms ?? 0)} ms`];
        if (record.cached) parts.push(`cache: ${record.cache_kind}`);
        meta.textContent = parts.filter(Boolean).join(" · ");
        turn.dataset.done = "true";
      }
    }
  }
  turn.classList.remove("streaming");
  state.history.push({ role: "user", content: question }, { role: "assistant", content: answer });
}

async function upload(files, collection) {
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  const line = el("li", `${[...files].map((f) => f.name).join(", ")}: uploading`, "job");
  const bar = el("progress");
  $("jobs").append(line);
  const response = await fetch(`/v1/collections/${encodeURIComponent(collection)}/documents`, {
    method: "POST", body: form, headers: headers(),
  });
  if (!response.ok) {
    line.textContent = await errorMessage(response);
    line.classList.add("error");
    return;
  }
  const body = await response.json();
  const label = el("span");
  line.replaceChildren(label, bar);
  line.dataset.job = body.job_id;
  for (;;) {
    const poll = await fetch(body.status_url, { headers: headers() });
    if (!poll.ok) { label.textContent = await errorMessage(poll); line.classList.add("error"); return; }
    const job = await poll.json();
    bar.max = job.files_total || 1;
    bar.value = job.files_done;
    label.textContent = `${body.files.join(", ")} → ${collection}: ${job.state}, ${job.files_done}/${job.files_total} files `;
    if (job.state === "done" || job.state === "failed") {
      line.dataset.state = job.state;
      if (job.message) line.append(el("div", job.message, "error"));
      for (const e of job.errors || []) {
        line.append(el("div", `failed: ${e.path.split("/").pop()}: ${e.error}`, "error"));
      }
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await loadCollections(collection);
}

$("ask-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("question").value = "";
  ask(question).catch((err) => console.error(err));
});
$("question").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("ask-form").requestSubmit();
  }
});
$("collection").addEventListener("change", () => {
  state.history = [];
  $("upload-collection").value = $("collection").value;
});
$("new-chat").addEventListener("click", () => {
  state.history = [];
  $("conversation").replaceChildren();
});
$("api-key").addEventListener("change", () => {
  // reads need a key once the server has any: remember it and list what it may see
  localStorage.setItem("ragline-key", $("api-key").value);
  loadCollections().catch((err) => console.error(err));
});
$("upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem("ragline-key", $("api-key").value);
  upload($("files").files, $("upload-collection").value.trim()).catch((err) => console.error(err));
});
$("api-key").value = localStorage.getItem("ragline-key") || "";
loadCollections().catch((err) => console.error(err));
