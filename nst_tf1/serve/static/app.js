// The page of 'nst-tf1 serve': the form, the live run (server-sent events), the gallery.
// No library, no network access beyond this server.
"use strict";

const HEADERS = { "X-NST-TF1": "1" };
// The option fields: [name, label, where ("main" or "more"), kind].
const FIELDS = [
  ["height", "Height", "main", "int"],
  ["width", "Width", "main", "int"],
  ["iterations", "Iterations", "main", "int"],
  ["save_every", "Save every", "main", "int"],
  ["fast", "Fast", "main", "bool"],
  ["style_strength", "Style strength", "main", "choice"],
  ["seed", "Seed", "main", "int"],
  ["alpha", "Alpha (content weight)", "more", "float"],
  ["beta", "Beta (style weight)", "more", "float"],
  ["learning_rate", "Learning rate", "more", "float"],
  ["noise_ratio", "Noise ratio", "more", "float"],
  ["optimizer", "Optimizer", "more", "choice"],
  ["precision", "Precision", "more", "choice"],
  ["init", "Initial image", "more", "choice"],
  ["preserve_colors", "Preserve colours", "more", "choice"],
  ["tv_weight", "TV weight", "more", "float"],
  ["style_weights", "Style weights", "more", "floats"],
  ["multires", "Coarse-to-fine scales", "more", "int"],
];

const $ = (id) => document.getElementById(id);
const state = {
  defaults: null,
  uploads: [],
  maxUpload: 0,
  job: null, // the run the page shows
  total: 0, // its steps
  done: 0,
  lastStep: null,
  points: [], // [step index, J, J_content, J_style]
  detail: null, // [first, last] step index of the detail phase (--detail-iterations), or null
  seconds: 0,
  previewLoading: false,
  previewPending: null,
  ended: false,
  stopping: false, // Stop was asked: the status says so until the run ends
  heard: false, // the event stream has said which run is current (the first time: the form)
  lost: null, // [text, class] of the status line when the connection to the server was lost
  focusTo: null, // the button the keyboard focus goes to once it is enabled (see handOver)
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function shown(value) {
  return value === null || value === undefined ? "" : String(value);
}

// ---- the form ------------------------------------------------------------------------

function buildFields() {
  for (const [name, label, where, kind] of FIELDS) {
    const info = state.defaults[name];
    const id = "f-" + name;
    const help = el("small", { id: "help-" + name, class: "hint" });
    const error = el("p", { id: "error-" + name, class: "error" });
    const describedBy = `help-${name} error-${name}`;
    let input;
    if (kind === "bool") {
      input = el("input", { type: "checkbox", id, name, "aria-describedby": describedBy });
      input.checked = Boolean(info.value);
    } else if (kind === "choice") {
      input = el("select", { id, name, "aria-describedby": describedBy });
      input.append(el("option", { value: "", text: defaultText(name, info) }));
      for (const choice of info.choices) input.append(el("option", { value: choice, text: choice }));
    } else {
      const numeric = kind === "int" ? "numeric" : "decimal";
      input = el("input", {
        type: "text",
        id,
        name,
        inputmode: kind === "floats" ? "text" : numeric,
        autocomplete: "off",
        "aria-describedby": describedBy,
      });
      input.value = shown(info.value);
      input.placeholder = defaultText(name, info);
    }
    // The flag's help, up to its defaults (shown as the placeholder); all of it as a tooltip.
    const short = info.help.split(/ \(default|; [0-9]/)[0];
    help.textContent = short.length > 110 ? short.slice(0, short.lastIndexOf(" ", 108)) + " …" : short;
    help.title = info.help;
    const field = el("div", { class: "field field-" + kind });
    const labelNode = el("label", { for: id, text: label });
    if (kind === "bool") field.append(input, labelNode, help, error);
    else field.append(labelNode, input, help, error);
    $(where === "main" ? "main-fields" : "more-fields").append(field);
    input.addEventListener("input", scheduleCheck);
    input.addEventListener("change", scheduleCheck);
  }
}

function defaultText(name, info) {
  if (name === "seed") return "a fresh one";
  const course = info.course === null ? "off" : info.course;
  if (info.fast !== null && info.fast !== undefined && info.fast !== info.course) {
    return `${course} (Fast: ${info.fast})`;
  }
  return info.value === null ? `${course}` : "";
}

function formOptions() {
  const options = {};
  for (const [name, , , kind] of FIELDS) {
    const input = $("f-" + name);
    options[name] = kind === "bool" ? input.checked : input.value;
  }
  return options;
}

function formData() {
  const styles = [...document.querySelectorAll("#style-list select")].map((s) => s.value);
  return { content: $("content-choice").value, styles, options: formOptions() };
}

// The form check's message of each field, or none. Only the fields' own nodes: the status
// line (class "error" too) keeps a refusal or a failure until something new replaces it, and
// an upload's refusal stays under its input until the next upload or choice there.
function showErrors(errors) {
  for (const node of document.querySelectorAll('p.error[id^="error-"]')) {
    const name = node.id.slice("error-".length);
    node.textContent = errors[name] || node.dataset.upload || "";
    const input = $("f-" + name);
    if (input) input.setAttribute("aria-invalid", errors[name] ? "true" : "false");
  }
}

let checkTimer = null;
function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(checkForm, 300);
}

async function checkForm() {
  const response = await post("/api/check", formData());
  const body = await response.json();
  showErrors(body.errors || {});
  return body.errors || {};
}

function post(url, data) {
  return fetch(url, {
    method: "POST",
    headers: { ...HEADERS, "Content-Type": "application/json" },
    body: JSON.stringify(data),
  });
}

// ---- images ---------------------------------------------------------------------------

function imageOptions(select, selected) {
  select.replaceChildren();
  for (const upload of state.uploads) {
    const size = upload.width ? ` (${upload.width}x${upload.height})` : "";
    select.append(el("option", { value: upload.id, text: upload.name + size }));
  }
  if (selected && state.uploads.some((u) => u.id === selected)) select.value = selected;
}

function thumbUrl(id) {
  return `/api/uploads/${encodeURIComponent(id)}/thumb`;
}

function showThumb(img, id, what) {
  const upload = state.uploads.find((u) => u.id === id);
  img.hidden = !upload;
  if (upload) {
    img.src = thumbUrl(id);
    img.alt = `${what}: ${upload.name}`;
  }
}

function refreshImageChoices() {
  const content = $("content-choice");
  imageOptions(content, content.value || "demo-content");
  showThumb($("content-thumb"), content.value, "Content image");
  for (const select of document.querySelectorAll("#style-list select")) {
    imageOptions(select, select.value || select.dataset.want || "demo-style");
    select.dispatchEvent(new Event("refresh"));
  }
}

function addStyleRow(id) {
  const list = $("style-list");
  const number = list.children.length + 1;
  const selectId = `style-choice-${Date.now()}-${number}`;
  const select = el("select", { id: selectId, "aria-describedby": "error-style" });
  select.dataset.want = id;
  imageOptions(select, id);
  const label = el("label", { for: selectId, class: "secondary" });
  const thumb = el("img", { class: "thumb", alt: "Style image" });
  const remove = el("button", { type: "button", class: "small", text: "Remove" });
  const row = el("li", {}, label, select, thumb, remove);
  const update = () => {
    showThumb(thumb, select.value, "Style image");
    renumberStyles();
  };
  select.addEventListener("change", () => {
    delete $("error-style").dataset.upload; // another choice: a refused upload is not it
    update();
    scheduleCheck();
  });
  select.addEventListener("refresh", update);
  remove.addEventListener("click", () => {
    if (list.children.length > 1) {
      row.remove();
      renumberStyles();
      scheduleCheck();
      $("add-style").focus();
    }
  });
  list.append(row);
  update();
}

function renumberStyles() {
  const rows = [...$("style-list").children];
  rows.forEach((row, i) => {
    row.querySelector("label").textContent = rows.length > 1 ? `Style image ${i + 1} to use` : "Style image to use";
    row.querySelector("button").hidden = rows.length === 1;
  });
}

function setStyles(ids) {
  $("style-list").replaceChildren();
  for (const id of ids) addStyleRow(id);
}

async function upload(file, errorId) {
  const errorNode = $(errorId);
  errorNode.textContent = "";
  delete errorNode.dataset.upload;
  if (state.maxUpload && file.size > state.maxUpload) {
    return failUpload(errorNode, `${file.name}: larger than the upload limit of ${state.maxUpload / 1048576} MB.`);
  }
  setStatus(`uploading ${file.name}`);
  let response;
  try {
    response = await fetch("/api/upload", {
      method: "POST",
      headers: { ...HEADERS, "X-File-Name": encodeURIComponent(file.name) },
      body: file,
    });
  } catch (exc) {
    return failUpload(errorNode, `${file.name}: the upload failed (${exc.message}).`);
  }
  let body = {};
  try {
    body = await response.json();
  } catch (exc) {
    body = { error: `${file.name}: the upload was refused (HTTP ${response.status}).` };
  }
  if (!response.ok) return failUpload(errorNode, body.error);
  const info = body.upload;
  state.uploads = [...state.uploads.filter((u) => u.id !== info.id), info];
  setStatus(`uploaded ${info.name}`);
  return info;
}

function failUpload(errorNode, message) {
  errorNode.textContent = message;
  errorNode.dataset.upload = message;
  setStatus(message, "error");
  return null;
}

async function contentFileChosen(event) {
  const file = event.target.files[0];
  if (!file) return;
  const info = await upload(file, "error-content");
  if (info) {
    refreshImageChoices();
    $("content-choice").value = info.id;
    showThumb($("content-thumb"), info.id, "Content image");
    scheduleCheck();
  }
}

async function styleFilesChosen(event) {
  const ids = [];
  for (const file of event.target.files) {
    const info = await upload(file, "error-style");
    if (!info) return;
    ids.push(info.id);
  }
  if (ids.length) {
    refreshImageChoices();
    setStyles(ids);
    scheduleCheck();
  }
}

// ---- starting and stopping ----------------------------------------------------------------

// A button disabled while it has the keyboard focus drops the focus to the top of the page; the
// focus goes on to the button that takes over instead (Start -> Stop, Stop -> Start), once
// that one is enabled.
function handOver(id, next) {
  if (document.activeElement === $(id)) state.focusTo = next;
  $(id).disabled = true;
}

function settleFocus() {
  const target = state.focusTo && $(state.focusTo);
  if (target && !target.disabled) {
    target.focus();
    state.focusTo = null;
  }
}

// Start refused: the focus it was handing to Stop comes back to it.
function focusBackToStart() {
  if (state.focusTo === "stop") state.focusTo = "start";
  settleFocus();
}

// Start refused for a field's value: the focus goes to the first such field, as forms do, so
// that the error described beside it is read out and the value is there to mend; a refusal
// that names no field gives it back to Start.
function focusAfterRefusal(errors) {
  const field = firstFieldInError(errors);
  if (!field) return focusBackToStart();
  state.focusTo = null;
  const folded = field.closest("details");
  if (folded) folded.open = true; // a field under "More options" cannot take the focus folded
  field.focus();
}

function firstFieldInError(errors) {
  for (const node of document.querySelectorAll('p.error[id^="error-"]')) {
    const name = node.id.slice("error-".length);
    if (!name || !errors[name]) continue;
    const field = $("f-" + name) || document.querySelector(`[aria-describedby~="${node.id}"]`);
    if (field && !field.disabled) return field;
  }
  return null;
}

async function start(event) {
  event.preventDefault();
  handOver("start", "stop");
  setStatus("starting");
  let response;
  try {
    response = await post("/api/runs", formData());
  } catch (exc) {
    setStatus(`The server cannot be reached (${exc.message}).`, "error");
    $("start").disabled = false;
    focusBackToStart();
    return;
  }
  const body = await response.json();
  if (!response.ok) {
    showErrors(body.errors || {});
    setStatus(body.error, "error");
    $("start").disabled = Boolean(state.job && !state.ended);
    focusAfterRefusal(body.errors || {});
    return;
  }
  showErrors({});
  showJob(body.job);
}

async function stop() {
  handOver("stop", "start");
  state.stopping = true;
  setStatus("stopping: the current image is being saved");
  let response;
  try {
    response = await post("/api/stop", {});
  } catch (exc) {
    stopRefused(`The server cannot be reached (${exc.message}).`, true);
    return;
  }
  if (!response.ok) {
    const body = await response.json();
    // 409: no run goes on there (it ended unheard, the server restarted): Start is usable.
    stopRefused(body.error, response.status !== 409);
  }
}

function stopRefused(message, stillRunning) {
  state.stopping = false;
  state.ended = state.ended || !stillRunning;
  setStatus(message, "error");
  if (stillRunning && state.focusTo === "start") state.focusTo = "stop";
  running(stillRunning);
}

function setStatus(text, kind) {
  state.userStatus = true; // what the person just did, until the next run event may speak
  showStatus(text, kind);
}

// The run's own words. The history of a run that had already ended when this page learnt of
// it is replayed to draw its curve and results; it never overwrites what the person's own
// action (an upload, a refused file) has just put in the status line.
function runStatus(text, kind) {
  if (state.replayingEnded && state.userStatus) return;
  if (state.stopping) return; // "stopping" until the run's end says how it ended
  state.userStatus = false;
  showStatus(text, kind);
}

function showStatus(text, kind) {
  const node = $("status");
  node.textContent = text;
  node.className = kind || "";
}

// ---- the live run ---------------------------------------------------------------------------

function showJob(job) {
  if (job && state.job && state.job.id === job.id) return;
  state.job = job;
  state.total = 0;
  state.done = 0;
  state.lastStep = null;
  state.points = [];
  state.detail = null;
  state.ended = false;
  state.stopping = false;
  state.seconds = 0;
  $("log").textContent = "";
  $("eta").textContent = "";
  $("results").hidden = true;
  drawCurve();
  if (!job) {
    running(false);
    return;
  }
  $("generated").hidden = true;
  $("generated").alt = "Generated image: none yet";
  $("generated-caption").textContent = `Run ${job.id}`;
  state.replayingEnded = job.status !== "running";
  running(job.status === "running");
  if (job.status === "running") runStatus("starting: loading the model");
}

function running(yes) {
  $("start").disabled = yes;
  $("stop").disabled = !yes;
  settleFocus();
}

function handle(event) {
  switch (event.type) {
    case "Note":
      log(event.text);
      // Reported just before the first of its steps: they are the next ones.
      if (event.code === "detail-phase") state.detail = [state.done + 1, state.done + event.data.iterations];
      break;
    case "Loading":
      if (!state.ended) runStatus(`starting: loading ${event.what === "tensorflow" ? "TensorFlow" : event.what}`);
      break;
    case "DownloadStarted":
      log(`downloading ${event.url}`);
      break;
    case "RunBegun":
      state.total = event.total_steps;
      runStatus(`running, starting ${event.total_steps} steps`);
      break;
    case "ScaleBegun":
      log(`scale ${event.scale} of ${event.scales}: ${event.height}x${event.width}`);
      break;
    case "StepDone":
      step(event);
      break;
    case "Preview":
      showPreview(event.seq, event.step);
      break;
    case "ImageSaved":
      log(`saved ${event.path}`);
      break;
    case "Finished":
      end("finished", event.text);
      break;
    case "Stopped":
      end("stopped", event.text);
      break;
    case "Failed":
      end("failed", event.text);
      break;
    default:
      break;
  }
}

function step(event) {
  if (state.lastStep === null || event.step !== state.lastStep.step || event.steps !== state.lastStep.steps) {
    state.done += 1;
  }
  state.lastStep = event;
  state.seconds = event.seconds;
  const point = [state.done, event.total_cost, event.content_cost, event.style_cost];
  const last = state.points[state.points.length - 1];
  if (last && last[0] === point[0]) state.points[state.points.length - 1] = point;
  else state.points.push(point);
  if (state.ended) return;
  const scale = event.scales > 1 ? ` (scale ${event.scale} of ${event.scales})` : "";
  runStatus(`running, ${event.unit} ${event.step} of ${event.steps}${scale}`);
  if (state.total && state.done > 1) {
    const left = ((state.total - state.done) * event.seconds) / state.done;
    $("eta").textContent = `about ${duration(left)} left (${duration(event.seconds)} so far)`;
  }
  scheduleDraw();
}

function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${seconds % 60} s`;
}

function showPreview(seq, stepNumber) {
  if (!state.job) return;
  const url = `/api/preview/${encodeURIComponent(state.job.id)}?n=${seq}`;
  if (state.previewLoading) {
    state.previewPending = [seq, stepNumber];
    return;
  }
  state.previewLoading = true;
  const loader = new Image();
  const done = () => {
    state.previewLoading = false;
    if (state.previewPending) {
      const [nextSeq, nextStep] = state.previewPending;
      state.previewPending = null;
      showPreview(nextSeq, nextStep);
    }
  };
  loader.onload = () => {
    const img = $("generated");
    if (!state.ended) {
      img.src = url;
      img.alt = `Generated image at iteration ${stepNumber}`;
      img.dataset.step = stepNumber;
      img.hidden = false;
    }
    done();
  };
  loader.onerror = done;
  loader.src = url;
}

function end(status, text) {
  state.ended = true;
  state.stopping = false;
  running(false);
  const words = { finished: "finished", stopped: "stopped", failed: text || "the run failed" };
  runStatus(status === "failed" ? words.failed : words[status], status === "failed" ? "error" : "");
  if (text && status !== "failed") log(text);
  $("eta").textContent = state.seconds ? `${duration(state.seconds)} in all` : "";
  scheduleDraw();
  showResults(status);
  loadGallery();
}

async function showResults(status) {
  const job = state.job;
  if (!job || status === "failed") return;
  const base = `/runs/${encodeURIComponent(job.id)}/`;
  const stamp = Date.now();
  const probe = await fetch(base + "generated_image.png", { method: "HEAD" });
  if (!probe.ok) return; // stopped before anything was saved
  const fields = job.fields || {};
  const g = $("result-generated");
  g.src = `${base}generated_image.png?t=${stamp}`;
  g.alt = `Generated image G of run ${job.id}`;
  $("generated").src = g.src;
  $("generated").alt = `Generated image, ${status}`;
  $("generated").hidden = false;
  setPanelImage($("result-content"), fields.content, "Content image C");
  setPanelImage($("result-style"), (fields.styles || [])[0], "Style image S");
  $("download-png").href = base + "generated_image.png?download=1";
  $("download-jpeg").href = base + "generated_image.jpg?download=1";
  $("download-json").href = base + "run.json?download=1";
  $("results").hidden = false;
}

function setPanelImage(img, id, what) {
  img.hidden = !id;
  if (id) {
    img.src = `/api/uploads/${encodeURIComponent(id)}/image`;
    img.alt = what;
  }
}

function log(text) {
  $("log").textContent += text + "\n";
}

// ---- the cost curve (inline SVG, log scale) ---------------------------------------------------

let drawPending = false;
function scheduleDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawCurve();
  });
}

function drawCurve() {
  const svg = $("curve");
  for (const node of [...svg.children]) if (node.tagName !== "title") node.remove();
  const W = 480, H = 240, L = 52, R = 8, T = 8, B = 22;
  const ns = "http://www.w3.org/2000/svg";
  const make = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node);
    return node;
  };
  make("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "plot" });
  const values = state.points.flatMap((p) => p.slice(1)).filter((v) => v !== null && v > 0 && isFinite(v));
  if (!values.length) return;
  let lo = Math.floor(Math.log10(Math.min(...values)));
  let hi = Math.ceil(Math.log10(Math.max(...values)));
  if (hi === lo) hi = lo + 1;
  const maxX = Math.max(state.total || 0, state.points[state.points.length - 1][0], 2);
  const x = (i) => L + ((i - 1) / (maxX - 1)) * (W - L - R);
  const y = (v) => T + (1 - (Math.log10(v) - lo) / (hi - lo)) * (H - T - B);
  const step = Math.max(1, Math.ceil((hi - lo) / 6));
  for (let e = lo; e <= hi; e += step) {
    make("line", { x1: L, x2: W - R, y1: y(10 ** e), y2: y(10 ** e), class: "grid" });
    make("text", { x: L - 4, y: y(10 ** e) + 4, class: "tick", "text-anchor": "end" }, `1e${e}`);
  }
  if (state.detail) {
    // The detail phase minimises the shallow style terms alone and reports the costs where it
    // saves only; after it J rises as the content's trust region pulls J_content back.
    const [a, b] = state.detail.map((i) => Math.min(i, maxX));
    make("rect", { x: x(a), y: T, width: Math.max(1, x(b) - x(a)), height: H - T - B, class: "detail-band" });
    make("text", { x: x(a) + 4, y: T + 12, class: "tick" }, "detail phase");
  }
  make("text", { x: L, y: H - 6, class: "tick" }, "1");
  make("text", { x: W - R, y: H - 6, class: "tick", "text-anchor": "end" }, String(maxX));
  ["total", "content", "style"].forEach((name, k) => {
    const pts = state.points
      .filter((p) => p[k + 1] !== null && p[k + 1] > 0 && isFinite(p[k + 1]))
      .map((p) => `${x(p[0]).toFixed(1)},${y(p[k + 1]).toFixed(1)}`);
    if (pts.length) make("polyline", { points: pts.join(" "), class: "line line-" + name });
  });
}

// ---- the gallery ----------------------------------------------------------------------------

async function loadGallery() {
  const response = await fetch("/api/gallery");
  const body = await response.json();
  const list = $("gallery-list");
  list.replaceChildren();
  $("gallery-empty").hidden = body.runs.length > 0;
  for (const run of body.runs) {
    const s = run.settings || {};
    const img = run.image
      ? el("img", {
          src: `/runs/${encodeURIComponent(run.id)}/${run.image}`,
          alt: `Result of run ${run.id}`,
          class: "thumb",
          loading: "lazy",
        })
      : el("span", { class: "thumb empty", text: "no image" });
    const when = run.started ? run.started.replace("T", " ").replace(/(\.\d+)?\+00:00$/, " UTC") : "";
    const size = run.image_size ? `${run.image_size[0]}x${run.image_size[1]}` : "";
    const what = [
      size,
      s.fast ? "fast" : null,
      progressText(run, s),
      `alpha ${s.alpha}`,
      `beta ${s.beta}`,
      run.seed !== null && run.seed !== undefined ? `seed ${run.seed}` : null,
      run.seconds ? `${duration(run.seconds)}` : null,
    ].filter(Boolean);
    const use = el("button", { type: "button", class: "small", text: "Use these settings" });
    use.setAttribute("aria-label", `Use these settings (${run.id})`);
    use.addEventListener("click", () => useSettings(run));
    const links = el("span", { class: "links" });
    if (run.image) {
      const png = `/runs/${encodeURIComponent(run.id)}/generated_image.png?download=1`;
      links.append(el("a", { href: png, text: "PNG", "aria-label": `PNG of ${run.id}` }), " ");
    }
    const record = `/runs/${encodeURIComponent(run.id)}/run.json?download=1`;
    links.append(el("a", { href: record, text: "run.json", "aria-label": `run.json of ${run.id}` }));
    const item = el(
      "li",
      { class: "run" },
      img,
      el(
        "div",
        {},
        el("strong", { text: `${run.content} + ${run.styles.join(" + ")}` }),
        el("br"),
        el("span", { class: "status status-" + run.status, text: run.status }),
        ` · ${when} · ${what.join(", ")}`,
        el("br"),
        use,
        " ",
        links
      )
    );
    list.append(item);
  }
}

// The budget of a finished run; how far one got that did not finish ("2 of 15 evaluations",
// "at scale 1 of 2" when it ended before the output size).
function progressText(run, s) {
  const lbfgs = s.optimizer === "lbfgs";
  const unit = lbfgs ? "evaluations" : "iterations";
  // The output size's budget: with L-BFGS, the detail phase's evaluations come first.
  const output = s.iterations + (lbfgs ? s.detail_iterations || 0 : 0);
  if (run.status === "finished" || typeof run.iteration !== "number") return `${output} ${unit}`;
  if (!run.scale) return `${run.iteration} of ${output} ${unit}`;
  const budget = s.coarse_iterations || s.iterations; // a coarser scale's own budget
  return `${run.iteration} of ${budget} ${unit} at scale ${run.scale.scale} of ${run.scale.scales}`;
}

// Every option field set to its value in `values`; a field without one to its default.
function fillFields(values) {
  for (const [name, , , kind] of FIELDS) {
    const input = $("f-" + name);
    const value = name in values ? values[name] : state.defaults[name].value;
    if (kind === "bool") input.checked = Boolean(value);
    else if (kind === "floats") input.value = Array.isArray(value) ? value.join(" ") : "";
    else input.value = shown(value);
  }
}

// A page opened or reloaded during a run: the form shows that run's settings and images
// (the server's job.fields: what its form had), not the defaults.
function fillFromJob(fields) {
  fillFields(fields);
  if (state.uploads.some((u) => u.id === fields.content)) {
    $("content-choice").value = fields.content;
    showThumb($("content-thumb"), fields.content, "Content image");
  }
  const styles = fields.styles || [];
  if (styles.length && styles.every((id) => state.uploads.some((u) => u.id === id))) setStyles(styles);
}

function useSettings(run) {
  const s = run.settings || {};
  fillFields(s);
  // What --fast chose is recorded as values; left to --fast again unless given by the user.
  if (s.fast) for (const name of ["optimizer", "precision", "init", "multires"]) $("f-" + name).value = "";
  const missing = [];
  if (run.content_id) $("content-choice").value = run.content_id;
  else missing.push(run.content);
  const styles = run.style_ids.filter(Boolean);
  if (styles.length === run.style_ids.length && styles.length) setStyles(styles);
  else missing.push(...run.styles);
  refreshImageChoices();
  $("form-note").textContent =
    missing.length
      ? `settings of ${run.id} filled in; its images ${missing.join(", ")} are not among the uploads: choose them again`
      : `settings of ${run.id} filled in`;
  $("form-title").scrollIntoView();
  $("f-height").focus();
  scheduleCheck();
}

// ---- start-up ---------------------------------------------------------------------------------

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("job", (message) => {
    const job = JSON.parse(message.data);
    if (!state.heard && job && job.status === "running") fillFromJob(job.fields);
    state.heard = true;
    if (job) showJob(job);
    else noJob();
  });
  source.onmessage = (message) => handle(JSON.parse(message.data));
  // The browser connects again every second (the stream's "retry") until the server is back.
  source.addEventListener("error", connectionLost);
  source.addEventListener("open", connectionBack);
}

const LOST = "the connection to the server was lost: trying again";

function connectionLost() {
  if (state.lost) return;
  state.lost = [$("status").textContent, $("status").className];
  showStatus(LOST, "error");
}

// What the status said before, unless something new replaced the message since; the
// stream then says which run is current, if any.
function connectionBack() {
  if (state.lost && $("status").textContent === LOST) showStatus(...state.lost);
  state.lost = null;
}

// No run on the server. One the page still shows as going on ended while the page could not
// hear it (the server stopped or restarted): the gallery has what it kept.
function noJob() {
  if (state.job && !state.ended) {
    state.ended = true;
    state.stopping = false;
    runStatus("the run is no longer going on: the server stopped it (see the gallery)");
    loadGallery();
  }
  running(false);
}

// The page's state from the server (defaults, uploads, limits), read once: every handler
// that needs it waits for it, so a file chosen while the page is still starting is kept.
let ready = null;

function init() {
  ready = loadState();
  // The file inputs listen at once: a change before the state arrives waits for it.
  $("content-file").addEventListener("change", async (event) => {
    await ready;
    contentFileChosen(event);
  });
  $("style-file").addEventListener("change", async (event) => {
    await ready;
    styleFilesChosen(event);
  });
  $("form").addEventListener("submit", async (event) => {
    event.preventDefault(); // never the browser's own submit, which would reload the page
    await ready;
    start(event);
  });
}

async function loadState() {
  const response = await fetch("/api/state");
  const body = await response.json();
  state.defaults = body.defaults;
  state.uploads = body.uploads;
  state.maxUpload = body.max_upload_bytes;
  if (body.model.problem) {
    $("model-problem").textContent = body.model.problem;
    $("model-problem").hidden = false;
  }
  buildFields();
  imageOptions($("content-choice"), "demo-content");
  showThumb($("content-thumb"), "demo-content", "Content image");
  setStyles(["demo-style"]);
  $("content-choice").addEventListener("change", () => {
    delete $("error-content").dataset.upload; // another choice: a refused upload is not it
    showThumb($("content-thumb"), $("content-choice").value, "Content image");
    scheduleCheck();
  });
  $("add-style").addEventListener("click", () => {
    addStyleRow("demo-style");
    $("style-list").lastChild.querySelector("select").focus();
    scheduleCheck();
  });
  $("stop").addEventListener("click", stop);
  listen();
  loadGallery();
}

document.addEventListener("DOMContentLoaded", init);
