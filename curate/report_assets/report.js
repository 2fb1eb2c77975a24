// curate report: renders the run's data (embedded as JSON above) into the page.
// Records are untrusted: every piece of their text goes in through textContent, never as HTML.
"use strict";

const data = JSON.parse(document.getElementById("report-data").textContent);

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const when = (iso) => (iso ? iso.replace("T", " ").replace("+00:00", " UTC") : "-");
const number = (n) => (n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US"));
const percent = (share) => (100 * share).toFixed(1) + "%";
const short = (text, size) => (text.length > size ? text.slice(0, size - 1) + "…" : text);

function section(id, title, ...children) {
  const node = el("section", { id }, el("h2", {}, title), ...children);
  document.getElementById("report").append(node);
  return node;
}

// A bar chart of [label, value] entries, with the unit of the values named on its axis.
function bars(title, entries, unit, kind) {
  const most = entries.reduce((top, [, value]) => Math.max(top, value), 1);
  const chart = el("div", { class: "chart" }, el("h3", {}, title));
  for (const [label, value] of entries) {
    const bar = el("div", { class: "bar" + (kind === "dropped" ? " dropped" : ""), style: `width:${(100 * value) / most}%` });
    chart.append(el("div", { class: "bar-row" }, el("span", {}, label), el("div", {}, bar), el("span", { class: "n" }, number(value))));
  }
  chart.append(el("div", { class: "axis" }, el("span", {}, ""), el("span", {}, `0 … ${number(most)} ${unit}`), el("span", {}, unit)));
  return chart;
}

function histogram(values, bins, low, high) {
  if (!values.length) return [];
  const width = Math.max(1, Math.ceil((high - low + 1) / bins));
  const counts = new Map();
  for (const value of values) {
    const start = low + Math.floor((value - low) / width) * width;
    counts.set(start, (counts.get(start) || 0) + 1);
  }
  const entries = [];
  for (let start = low; start <= high; start += width) entries.push([`${number(start)}–${number(start + width - 1)}`, counts.get(start) || 0]);
  return entries;
}

function recordCard(row) {
  const title = row.instruction || row.prompt || row.id || "(record)";
  return el("details", { class: "record" }, el("summary", {}, short(String(title), 160)), el("pre", {}, JSON.stringify(row, null, 2)));
}

function showExamples(stage, label, rows, button) {
  document.querySelectorAll("button.active").forEach((b) => b.classList.remove("active"));
  button.classList.add("active");
  const panel = document.getElementById("examples");
  panel.replaceChildren(el("h3", {}, `${stage}: ${label}`), el("p", { class: "note" }, `${rows.length} example(s), a seeded sample; open one to see the whole record with its meta.`));
  for (const row of rows) panel.append(recordCard(row));
  panel.scrollIntoView({ block: "nearest" });
}

function funnel() {
  if (!data.funnel.length) return;
  const table = el("table", { id: "funnel-table" }, el("tr", {}, ...["stage", "in", "out", "dropped", "share dropped", "reasons (count, share)"].map((h) => el("th", {}, h))));
  data.funnel.forEach((row, index) => {
    const details = data.stages[index] || { examples: {}, kept_examples: [] };
    const reasons = el("td", { class: "reasons" });
    const kept = el("button", { class: "kept", "data-stage": row.stage }, "kept examples");
    kept.addEventListener("click", () => showExamples(row.stage, "kept", details.kept_examples, kept));
    reasons.append(kept);
    for (const reason of row.reasons) {
      const button = el("button", { class: "reason", "data-stage": row.stage, "data-reason": reason.reason }, `${reason.reason} (${number(reason.count)}, ${percent(reason.share)})`);
      button.addEventListener("click", () => showExamples(row.stage, reason.reason, details.examples[reason.reason] || [], button));
      reasons.append(button);
    }
    table.append(el("tr", { "data-stage": row.stage }, el("td", {}, row.command), el("td", { class: "n in" }, number(row.in)), el("td", { class: "n out" }, number(row.out)), el("td", { class: "n dropped" }, number(row.dropped)), el("td", { class: "n share" }, percent(row.share_dropped)), reasons));
  });
  section("funnel", "Funnel", el("p", { class: "note" }, "Records into and out of each stage, in data-flow order, from the stages' summaries (a resumable stage: what its files hold over all its runs). A share is of the records the stage kept or dropped. Click a reason for examples."), table, el("div", { id: "examples" }));
}

function search() {
  const rows = data.final.search;
  if (!rows.length) return;
  const box = el("input", { id: "search-box", type: "search", placeholder: "search instructions" });
  const results = el("div", { id: "search-results" });
  box.addEventListener("input", () => {
    const query = box.value.trim().toLowerCase();
    results.replaceChildren();
    if (!query) return;
    const found = rows.filter((row) => String(row.instruction || "").toLowerCase().includes(query));
    results.append(el("p", { class: "note" }, `${found.length} match(es)${found.length > 50 ? ", the first 50 shown" : ""}`));
    for (const row of found.slice(0, 50)) results.append(recordCard(row));
  });
  section("search", "Search", el("p", { class: "note" }, `Over the instructions of ${number(rows.length)} records of ${data.final.name} (all of them, or a seeded sample of a large file).`), box, results);
}

function lengthCharts(lengths, unit, title) {
  const charts = el("div", { class: "charts" });
  for (const part of ["prompt", "answer"]) {
    const kept = ((lengths.kept || {})[part] || {})[unit] || [];
    const dropped = ((lengths.dropped || {})[part] || {})[unit] || [];
    const all = kept.concat(dropped);
    if (!all.length) continue;
    const low = all.reduce((a, b) => Math.min(a, b)), high = all.reduce((a, b) => Math.max(a, b));
    if (kept.length) charts.append(bars(`${title}: ${part} length in ${unit}, kept`, histogram(kept, data.bins, low, high), "records"));
    if (dropped.length) charts.append(bars(`${title}: ${part} length in ${unit}, dropped`, histogram(dropped, data.bins, low, high), "records", "dropped"));
  }
  return charts;
}

function distributions() {
  const node = section("distributions", "Distributions");
  const counters = [["Judge scores (everything judged)", data.judge_scores], ["Dedup cluster sizes (clusters of each size)", data.dedup_clusters], ["PII found, by type", data.pii], ["Language mix of the final file", data.final.language], ["Records per split", data.splits], ["Evolution rounds of the final file", data.final.rounds], ["Evolution operations of the final file", data.final.operations]];
  const charts = el("div", { class: "charts" });
  for (const [title, counter] of counters) {
    if (counter && Object.keys(counter).length) charts.append(bars(title, Object.entries(counter), "records"));
  }
  node.append(charts);
  node.append(el("h3", {}, `Lengths of the final file (${data.final.name})`), lengthCharts({ kept: data.final.lengths }, "chars", "final"));
  if (data.final.lengths.prompt && data.final.lengths.prompt.tokens) node.append(lengthCharts({ kept: data.final.lengths }, "tokens", "final"));
  data.funnel.forEach((row, index) => {
    const lengths = (data.stages[index] || {}).lengths;
    if (!lengths) return;
    const box = el("details", { class: "stage-lengths" }, el("summary", {}, `${row.command}: lengths, kept against dropped`));
    box.append(lengthCharts(lengths, "chars", row.command));
    if (data.tokens) box.append(lengthCharts(lengths, "tokens", row.command));
    node.append(box);
  });
}

function tree(nodes) {
  const children = new Map();
  const ids = new Set(nodes.map((n) => n.id));
  for (const node of nodes) {
    const parent = node.parent && ids.has(node.parent) ? node.parent : null;
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(node);
  }
  const render = (parent) => {
    const list = el("ul", { class: "tree" });
    for (const node of children.get(parent) || []) {
      const label = node.eliminated
        ? el("span", { class: "eliminated" }, `round ${node.round} · ${node.operation || "seed"} · eliminated: ${node.eliminated} · `, node.instruction)
        : el("span", {}, el("span", { class: "op" }, `round ${node.round} · ${node.operation || "seed"} · `), node.instruction);
      list.append(el("li", { "data-id": node.id }, label, render(node.id)));
    }
    return list;
  };
  return render(null);
}

function lineage() {
  if (data.lineage.length) {
    const node = section("lineage", "Lineage", el("p", { class: "note" }, `Evolution trees of ${data.lineage.length} seed(s), a seeded sample: each round's rewrite with its operation, and the attempts that were eliminated, with their rule.`));
    for (const entry of data.lineage) {
      const seed = entry.nodes.find((n) => n.id === entry.root) || entry.nodes[0] || { instruction: entry.root };
      node.append(el("details", { class: "lineage", "data-root": entry.root }, el("summary", {}, short(seed.instruction, 140), el("span", { class: "muted" }, ` (${entry.nodes.length} records)`)), tree(entry.nodes)));
    }
  }
  if (data.preferences.length) {
    const node = section("preferences", "Preferences", el("p", { class: "note" }, "Chosen and rejected side by side, with the scores that decided them (a seeded sample)."));
    for (const pair of data.preferences) {
      const scores = pair.scores ? `scores ${JSON.stringify(pair.scores)}` : "";
      const margin = pair.margin !== null && pair.margin !== undefined ? ` margin ${pair.margin}` : "";
      node.append(el("div", { class: "pair" }, el("div", { style: "grid-column: 1 / 3" }, el("b", {}, short(pair.prompt, 300)), el("span", { class: "muted" }, ` ${scores}${margin}`)), el("div", { class: "side chosen" }, el("b", {}, "chosen\n"), pair.chosen), el("div", { class: "side rejected" }, el("b", {}, "rejected\n"), pair.rejected)));
    }
  }
}

function facts() {
  if (!data.facts.length) return;
  const table = el("table", { id: "facts-table" }, el("tr", {}, ...["stage", "model", "endpoints", "started", "ended", "seconds", "requests", "tokens in / out", "cost (USD)", "settings and results"].map((h) => el("th", {}, h))));
  for (const row of data.facts) {
    const counts = row.counts || {};
    const tokens = counts.prompt_tokens !== undefined ? `${number(counts.prompt_tokens)} / ${number(counts.completion_tokens)}` : "-";
    table.append(el("tr", {}, el("td", {}, row.stage), el("td", {}, row.model || "-"), el("td", {}, row.endpoints.join(", ") || "-"), el("td", {}, when(row.started_at)), el("td", {}, when(row.ended_at)), el("td", { class: "n" }, row.seconds === undefined ? "-" : row.seconds), el("td", { class: "n" }, number(counts.requests)), el("td", { class: "n" }, tokens), el("td", { class: "n" }, row.cost_usd === undefined || row.cost_usd === null ? "-" : row.cost_usd), el("td", {}, el("details", { class: "facts" }, el("summary", {}, "config, files, results"), el("pre", {}, JSON.stringify({ results: row.facts, config: row.config, files: row.files }, null, 2))))));
  }
  section("facts", "Run facts", el("p", { class: "note" }, "What each stage ran with; keys are never recorded."), table);
}

function images() {
  if (!data.images.length) return;
  const list = el("ul", {});
  for (const [title, file] of data.images) list.append(el("li", {}, el("a", { href: file }, title)));
  section("images", "Images for documents", el("p", { class: "note" }, "The same numbers as PNG files beside this page."), list);
}

document.getElementById("summary-line").textContent = data.summary;
facts();
funnel();
search();
distributions();
lineage();
images();
