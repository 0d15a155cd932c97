// slidecast's web page: upload a deck, see the plan, follow the render
// (Server-Sent Events), play and download the result. No build step.
"use strict";

const $ = (id) => document.getElementById(id);
let chosen = null; // {kind: "bundle", file} or {kind: "folder", files: [{file, path}]}
let jobId = null;
let events = null;

function token() { return $("token").value.trim(); }
function withToken(url) {
  const t = token();
  return t ? url + (url.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(t) : url;
}
function headers() {
  const t = token();
  return t ? { Authorization: "Bearer " + t } : {};
}

function choose(c, label) {
  chosen = c;
  $("chosen").textContent = label;
  $("plan-button").disabled = !c;
  $("render-button").disabled = !c;
  $("upload-error").textContent = "";
}

$("bundle").addEventListener("change", (e) => {
  const f = e.target.files[0];
  if (f) fileChoice(f);
});
$("folder").addEventListener("change", (e) => {
  const files = Array.from(e.target.files).map((f) => ({ file: f, path: f.webkitRelativePath || f.name }));
  if (files.length) choose({ kind: "folder", files: stripTop(files) }, "Folder: " + files.length + " files");
});

// A PDF or PPTX is sent as `source`, a zip as `bundle`.
function fileChoice(f) {
  const lower = f.name.toLowerCase();
  const kind = lower.endsWith(".pdf") || lower.endsWith(".pptx") ? "source" : "bundle";
  choose({ kind, file: f }, (kind === "source" ? "Presentation: " : "Zip: ") + f.name);
}

// A dropped folder is read entry by entry; a dropped file is sent whole.
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", async (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const item = e.dataTransfer.items && e.dataTransfer.items[0];
  const entry = item && item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
  if (entry && entry.isDirectory) {
    const files = [];
    await walk(entry, "", files);
    choose({ kind: "folder", files }, "Folder: " + entry.name + " (" + files.length + " files)");
  } else if (e.dataTransfer.files[0]) {
    fileChoice(e.dataTransfer.files[0]);
  }
});

function walk(dir, prefix, out) {
  return new Promise((resolve) => {
    const reader = dir.createReader();
    const all = [];
    const next = () => reader.readEntries(async (entries) => {
      if (!entries.length) {
        for (const en of all) {
          if (en.isDirectory) await walk(en, prefix + en.name + "/", out);
          else out.push({ file: await new Promise((r) => en.file(r)), path: prefix + en.name });
        }
        resolve();
      } else { all.push(...entries); next(); }
    });
    next();
  });
}

// A picked folder's paths start with the folder's own name: drop it.
function stripTop(files) {
  const tops = new Set(files.map((f) => f.path.split("/")[0]));
  if (tops.size !== 1) return files;
  return files.map((f) => ({ file: f.file, path: f.path.split("/").slice(1).join("/") || f.path }));
}

function body() {
  const form = new FormData();
  if (chosen.kind === "bundle" || chosen.kind === "source") {
    form.append(chosen.kind, chosen.file, chosen.file.name);
  } else {
    const deck = chosen.files.find((f) => f.path === "deck.toml" || f.path === "deck.json");
    if (!deck) throw new Error("the folder has no deck.toml or deck.json at its root");
    form.append("deck", deck.file, deck.path);
    for (const f of chosen.files) if (f !== deck) form.append("files", f.file, f.path);
  }
  const options = {};
  if ($("provider").value.trim()) options.provider = $("provider").value.trim();
  if ($("max-minutes").value) options.max_minutes = Number($("max-minutes").value);
  if (!$("captions").checked) options.captions = false;
  form.append("options", JSON.stringify(options));
  return form;
}

function showError(where, answer) {
  const err = answer && answer.error;
  if (!err) { $(where).textContent = String(answer); return; }
  const lines = [err.message];
  for (const p of err.problems || []) {
    lines.push("• " + p.file + (p.slide ? " slide " + p.slide : "") + " " + p.field + ": " + p.message);
  }
  $(where).textContent = lines.join("\n");
}

async function send(url) {
  let form;
  try { form = body(); } catch (e) { showError("upload-error", e.message); return null; }
  const r = await fetch(url, { method: "POST", body: form, headers: headers() });
  const answer = await r.json().catch(() => null);
  if (!r.ok) { showError("upload-error", answer || r.statusText); return null; }
  return answer;
}

$("plan-button").addEventListener("click", async () => {
  const plan = await send("/v1/plan");
  if (!plan) return;
  $("plan").hidden = false;
  $("plan-summary").textContent = plan.slides.length + " slides · " + plan.to_render + " to render · " +
    plan.cached + " cached · " + plan.vendor_minutes.toFixed(1) + " vendor minutes" +
    plan.costs.filter((c) => c.unit !== "minutes" && c.cost > 0)
      .map((c) => " · " + c.provider + " " + c.cost + " " + c.unit).join("");
  $("plan-rows").replaceChildren(...plan.slides.map((s) => row([s.slide, s.status, s.provider || "—", s.speech_seconds.toFixed(1) + " s"])));
});

$("render-button").addEventListener("click", async () => {
  $("render-button").disabled = true;
  const job = await send("/v1/jobs");
  $("render-button").disabled = false;
  if (!job) return;
  follow(job);
});

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
  return tr;
}

function follow(job) {
  jobId = job.id;
  $("job").hidden = false;
  $("result").hidden = true;
  $("job-id").textContent = job.id;
  $("job-error").textContent = "";
  const stages = {};
  for (let i = 1; i <= job.slides; i++) stages[i] = "waiting";
  const draw = () => $("stages").replaceChildren(...Object.keys(stages).map((k) => {
    const tr = row([k, stages[k]]);
    tr.dataset.slide = k;
    tr.className = "stage-" + stages[k];
    return tr;
  }));
  draw();
  show(job);
  if (events) events.close();
  events = new EventSource(withToken("/v1/jobs/" + job.id + "/events"));
  events.onmessage = (m) => {
    const rec = JSON.parse(m.data);
    const ev = rec.event;
    setOverall(rec.overall, rec.eta);
    if (ev.slide) { stages[ev.slide] = ev.type; draw(); }
    if (ev.type === "finished" || ev.type === "failed" || ev.type === "cancelled") refresh();
  };
  // The server closes the stream when the job ends; the browser would
  // reconnect (resuming from the last event id): look at the job instead.
  events.onerror = () => refresh();
}

function setOverall(percent, eta) {
  $("overall").value = percent;
  $("overall-text").textContent = Math.round(percent) + " %";
  $("eta").textContent = eta ? "about " + Math.ceil(eta) + " s left" : "";
}

async function refresh() {
  if (!jobId) return;
  const r = await fetch("/v1/jobs/" + jobId, { headers: headers() });
  if (r.ok) show(await r.json());
}

function show(job) {
  $("state").textContent = job.state;
  setOverall(job.overall, job.eta);
  $("cancel-button").disabled = ["succeeded", "failed", "cancelled"].includes(job.state);
  if (["succeeded", "failed", "cancelled"].includes(job.state) && events) { events.close(); events = null; }
  if (job.error) showError("job-error", { error: job.error });
  if (job.state === "succeeded" && $("result").hidden) {
    $("result").hidden = false;
    const video = $("video");
    video.replaceChildren();
    video.src = withToken(job.links.video);
    const track = document.createElement("track");
    track.kind = "captions";
    track.label = "Captions";
    track.srclang = "en";
    track.src = withToken(job.links.captions_vtt);
    track.default = true;
    video.appendChild(track);
    const chapters = document.createElement("track");
    chapters.kind = "chapters";
    chapters.label = "Chapters";
    chapters.srclang = "en";
    chapters.src = withToken(job.links.chapters_vtt);
    video.appendChild(chapters);
    $("download").href = withToken(job.links.video);
    $("download-srt").href = withToken(job.links.captions_srt);
    $("download-chapters").href = withToken(job.links.chapters_txt);
    $("download-timeline").href = withToken(job.links.timeline);
  }
}

$("cancel-button").addEventListener("click", async () => {
  if (!jobId) return;
  const r = await fetch("/v1/jobs/" + jobId + "/cancel", { method: "POST", headers: headers() });
  if (r.ok) show(await r.json());
});
