// bgremover web page: sign in with a token, pick a tier, upload one image (job) or many (batch),
// follow the progress, compare before/after, put the cut-out on a background, download.
// Plain JS, same-origin requests only.
"use strict";

const API = "/api/background-remover";
const TOKEN_KEY = "bgremover.token";
const FINAL = new Set(["completed", "failed", "cancelled", "partial"]);

const $ = (id) => document.getElementById(id);
const state = {
  pricing: null,
  files: [],
  run: 0,
  resultBlob: null,
  resultName: "",
  zipUrl: "",
  objectUrls: [],
  // the single job's transparent cut-out, decoded, and its subject's box: what the live preview composes
  cutout: null,
  subject: null,
  bgImage: null,
};

class ApiError extends Error {
  constructor(status, body) {
    super(body.detail || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || `http_${status}`;
    this.title = body.title || "Error";
    this.detail = body.detail || `The server answered HTTP ${status}.`;
    this.body = body;
  }
}

// ------------------------------------------------------------------ API access

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function request(path, { method = "GET", body, headers = {} } = {}) {
  const res = await fetch(path.startsWith(API) ? path : API + path, {
    method,
    body,
    cache: "no-store",
    headers: { Accept: "application/json, application/problem+json", ...headers, Authorization: `Bearer ${token()}` },
  });
  if (res.ok || res.status === 304) return res;
  let problem = {};
  try {
    problem = await res.json();
  } catch {
    problem = { detail: `The server answered HTTP ${res.status} ${res.statusText}.` };
  }
  const error = new ApiError(res.status, problem);
  if (res.status === 401) signOut({ keepError: true });
  throw error;
}

async function getJson(path) {
  return (await request(path)).json();
}

function retryAfter(res, fallback = 1) {
  const header = (res.headers.get("Retry-After") || "").trim();
  const seconds = Number(header);
  // 0 after a long poll that ran out: ask again at once
  return header !== "" && Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 30) : fallback;
}

// Long polls: the server answers as soon as the job (or batch) is final, so the page learns it at once;
// a batch's comes back every few seconds for the progress bar.
const JOB_LONG_POLL_S = 25;
const BATCH_LONG_POLL_S = 2;

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

// ------------------------------------------------------------------ errors

function showError(error) {
  const isApi = error instanceof ApiError;
  $("error-title").textContent = isApi ? error.title : "Error";
  $("error-code").textContent = isApi ? error.code : "";
  $("error-detail").textContent = isApi ? error.detail : String(error.message || error);
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

async function guarded(action) {
  try {
    await action();
  } catch (error) {
    showError(error);
  }
}

// ------------------------------------------------------------------ sign in / account

function signOut({ keepError = false } = {}) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.run += 1; // stops any polling
  if (!keepError) clearError();
  for (const id of ["account", "workspace", "progress-section", "compare"]) $(id).hidden = true;
  $("sign-in").hidden = false;
  $("token").value = "";
}

async function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim());
  clearError();
  await loadAccount();
  state.pricing = await getJson("/pricing");
  renderTiers();
  renderLimits();
  $("sign-in").hidden = true;
  $("account").hidden = false;
  $("workspace").hidden = false;
}

async function loadAccount() {
  const [balance, sub] = await Promise.all([getJson("/credits/balance"), getJson("/subscription")]);
  $("balance").textContent = String(balance.balance);
  $("subscription").textContent = describeSubscription(sub.subscription);
}

function describeSubscription(sub) {
  if (!sub) return "none";
  if (!sub.active) return `${sub.plan} (${sub.status})`;
  const until = new Date(sub.expiresAt).toLocaleDateString();
  const usage = Object.entries(sub.dailyQuotas)
    .map(([tier, quota]) => `${tier} ${sub.usageToday[tier] || 0}/${quota}`)
    .join(", ");
  return `${sub.plan}, active until ${until}; today: ${usage}`;
}

// ------------------------------------------------------------------ tiers, limits, discounts

function renderTiers() {
  const list = $("tier-list");
  list.replaceChildren();
  let checked = false;
  for (const tier of state.pricing.tiers) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "tier";
    input.value = tier.tier;
    input.disabled = !tier.available;
    if (tier.available && !checked) input.checked = checked = true;
    input.addEventListener("change", updateSelection);
    const name = document.createElement("span");
    name.className = "price";
    name.textContent = `${tier.tier} – ${tier.credits} credits / image${tier.available ? "" : " (unavailable)"}`;
    const description = document.createElement("span");
    description.className = "description";
    description.textContent = tier.description;
    label.classList.toggle("unavailable", !tier.available);
    label.append(input, " ", name, description);
    list.append(label);
  }
}

function renderLimits() {
  const limits = state.pricing.limits;
  const mb = (limits.maxImageBytes / 1048576).toFixed(0);
  $("limits-help").textContent =
    `JPEG, PNG or WebP, up to ${mb} MB and ${limits.maxMegapixels} MP each. ` +
    `One image is a single job; ${limits.batchMinImages}–${limits.batchMaxImages} images make a batch.`;
  updateSelection();
}

function selectedTier() {
  const input = document.querySelector('input[name="tier"]:checked');
  return input ? state.pricing.tiers.find((t) => t.tier === input.value) : null;
}

function discountFor(count) {
  const found = state.pricing.volumeDiscounts.find((d) => count >= d.minImages && count <= d.maxImages);
  return found ? found.percent : 0;
}

function updateSelection() {
  if (!state.pricing) return;
  const count = state.files.length;
  const tier = selectedTier();
  const { batchMaxImages } = state.pricing.limits;
  const tiersText = state.pricing.volumeDiscounts
    .map((d) => `${d.minImages}–${d.maxImages} images: ${d.percent}% off`)
    .join("; ");
  let text = `Batch volume discounts: ${tiersText}.`;
  if (count && tier) {
    const full = count * tier.credits;
    const percent = count > 1 ? discountFor(count) : 0;
    const price = Math.floor((full * (100 - percent)) / 100);
    text =
      `${count} × ${tier.credits} = ${full} credits` +
      (percent ? `, ${percent}% volume discount: ${price} credits. ` : ". ") +
      text;
  }
  $("discount-help").textContent = text;
  $("selection").textContent = count
    ? `${count} image${count === 1 ? "" : "s"} selected: ${count === 1 ? "single job" : "batch"}`
    : "No image selected";
  $("submit").disabled = !count || !tier || count > batchMaxImages;
  $("submit").textContent = count > 1 ? `Remove backgrounds (${count} images)` : "Remove background";
  if (count > batchMaxImages) showError(new Error(`A batch holds at most ${batchMaxImages} images; got ${count}.`));
}

function setFiles(fileList) {
  state.files = [...fileList].filter((f) => f.type === "" || f.type.startsWith("image/"));
  updateSelection();
}

// ------------------------------------------------------------------ submit and follow

function resetProgress() {
  for (const url of state.objectUrls) URL.revokeObjectURL(url);
  state.objectUrls = [];
  state.resultBlob = null;
  state.zipUrl = "";
  state.cutout = null;
  state.subject = null;
  $("composed-figure").hidden = true;
  $("progress").value = 0;
  $("progress").max = 1;
  $("progress-text").textContent = "";
  $("image-statuses").replaceChildren();
  $("download-result").hidden = true;
  $("download-zip").hidden = true;
  $("compare").hidden = true;
  $("progress-section").hidden = false;
}

async function submit() {
  clearError();
  const tier = selectedTier();
  const files = state.files;
  const form = new FormData();
  form.append("tier", tier.tier);
  form.append("format", $("format").value);
  resetProgress();
  const run = ++state.run;
  $("submit").disabled = true;
  try {
    if (files.length === 1) {
      form.append("image", files[0], files[0].name);
      const res = await request("/jobs", { method: "POST", body: form });
      const job = await res.json();
      await loadAccount();
      await followJob(res.headers.get("Location") || job.links.self, job, files[0], run);
    } else {
      for (const file of files) form.append("images[]", file, file.name);
      appendComposeFields(form);
      const res = await request("/batches", { method: "POST", body: form });
      const batch = await res.json();
      await loadAccount();
      await followBatch(res.headers.get("Location") || batch.links.self, batch, run);
    }
  } finally {
    updateSelection();
  }
}

function showStatus(processed, total, label) {
  $("progress").max = total;
  $("progress").value = processed;
  $("progress-text").textContent = `${processed} of ${total} processed – ${label}`;
}

async function followJob(url, job, file, run) {
  const before = URL.createObjectURL(file);
  state.objectUrls.push(before);
  let etag = "";
  for (;;) {
    renderJob(job);
    if (FINAL.has(job.status)) break;
    const res = await request(`${url}?wait=${JOB_LONG_POLL_S}`, { headers: etag ? { "If-None-Match": etag } : {} });
    const wait = retryAfter(res);
    if (res.status !== 304) {
      etag = res.headers.get("ETag") || "";
      job = await res.json();
    }
    if (run !== state.run) return;
    if (!FINAL.has(job.status)) await sleep(wait);
    if (run !== state.run) return;
  }
  await loadAccount();
  if (job.status !== "completed") {
    showError(new ApiError(422, { title: `Job ${job.status}`, code: job.errorCode, detail: job.errorMessage }));
    return;
  }
  const res = await request(job.links.result);
  state.resultBlob = await res.blob();
  state.resultName = filenameOf(res, `${job.id}.png`);
  const after = URL.createObjectURL(state.resultBlob);
  state.objectUrls.push(after);
  $("before").src = before;
  $("after").src = after;
  state.cutout = await createImageBitmap(state.resultBlob);
  state.subject = subjectBox(state.cutout);
  $("compare").hidden = false;
  $("download-result").hidden = false;
  renderPreview();
}

function renderJob(job) {
  const processed = FINAL.has(job.status) ? 1 : 0;
  showStatus(processed, 1, job.status);
  renderImages([{ filename: job.originalFilename, status: job.status, errorCode: job.errorCode }]);
}

async function followBatch(url, batch, run) {
  for (;;) {
    const res = await request(`${url}?wait=${BATCH_LONG_POLL_S}`);
    batch = await res.json();
    renderBatch(batch);
    if (run !== state.run || FINAL.has(batch.status)) break;
    await sleep(retryAfter(res, 2));
    if (run !== state.run) return;
  }
  await loadAccount();
  if (batch.links.result) {
    // the bearer link: it stays valid, where links.download is signed and expires
    state.zipUrl = batch.links.result;
    $("download-zip").hidden = false;
  } else {
    showError(new ApiError(422, { title: "Batch failed", code: "batch_failed", detail: "No image succeeded." }));
  }
}

function renderBatch(batch) {
  const label = `${batch.status}; ${batch.succeededImages} succeeded, ${batch.failedImages} failed`;
  showStatus(batch.processedImages, batch.totalImages, label);
  renderImages(batch.images || []);
}

function renderImages(images) {
  const items = images.map((image) => {
    const li = document.createElement("li");
    li.className = `status-${image.status}`;
    li.textContent = `${image.filename}: ${image.status}${image.errorCode ? ` (${image.errorCode})` : ""}`;
    return li;
  });
  $("image-statuses").replaceChildren(...items);
}

// ------------------------------------------------------------------ background and layout
//
// One image: the job asks the server for the plain transparent cut-out (one charge), and this page
// composes it with the settings (remove.bg's meaning of bg_color, bg_image_file, add_shadow, scale and
// position), live, as often as the user likes; the download is that composite at the cut-out's full
// size. A batch: the same settings go to the server as remove.bg's form fields, and the ZIP is the
// server's work.

const PREVIEW_MAX_SIDE = 900;
const SUBJECT_ALPHA = 32; // alpha above this counts as subject when measuring its box
const SHADOW = { color: "rgba(0, 0, 0, 0.5)", blur: 0.05, offset: 0.03 }; // blur, offset: × subject height

function composeSettings() {
  const resize = $("resize").checked;
  return {
    background: $("background").value,
    color: $("bg-color").value,
    shadow: $("shadow").checked,
    scale: resize ? Number($("scale").value) : null,
    position: $("position").value,
    x: Number($("pos-x").value),
    y: Number($("pos-y").value),
  };
}

function composing() {
  const s = composeSettings();
  return (
    (s.background === "color" || (s.background === "image" && state.bgImage !== null)) ||
    s.shadow ||
    s.scale !== null ||
    (s.position !== "auto" && s.position !== "original")
  );
}

// The form fields of POST /batches: the server lays every image of the batch out the way the preview
// does for one (bg_color or bg_image_file, add_shadow, scale, position).
function appendComposeFields(form) {
  const s = composeSettings();
  const bgFile = $("bg-image").files[0];
  if (s.background === "color") form.append("bg_color", s.color);
  if (s.background === "image" && bgFile) form.append("bg_image_file", bgFile, bgFile.name);
  if (s.shadow) form.append("add_shadow", "true");
  if (s.scale !== null) form.append("scale", `${s.scale}%`);
  if (s.position === "center") form.append("position", "center");
  if (s.position === "custom") form.append("position", `${s.x}% ${s.y}%`);
}

// The box of the pixels that are subject, in the cut-out's pixels (measured on a copy of at most
// 2048 px a side: reading back a 25 MP picture would cost 100 MB).
function subjectBox(image) {
  const f = Math.min(1, 2048 / Math.max(image.width, image.height));
  const w = Math.max(1, Math.round(image.width * f));
  const h = Math.max(1, Math.round(image.height * f));
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(image, 0, 0, w, h);
  const alpha = ctx.getImageData(0, 0, w, h).data;
  let left = w, top = h, right = -1, bottom = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (alpha[(y * w + x) * 4 + 3] > SUBJECT_ALPHA) {
        if (x < left) left = x;
        if (x > right) right = x;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
      }
    }
  }
  if (right < 0) return { x: 0, y: 0, width: image.width, height: image.height }; // nothing found: the whole picture
  return {
    x: left / f,
    y: top / f,
    width: Math.min(image.width, (right + 1) / f) - left / f,
    height: Math.min(image.height, (bottom + 1) / f) - top / f,
  };
}

// Where the subject goes on a canvas the size of the cut-out: scaled so that it spans `scale` % of the
// canvas (its longer side relative to the canvas), then placed; scaling implies centring unless a
// position is given ("original" keeps its centre; x y puts its box at x % of the free width, y % of the free height).
function placement(s, W, H, box) {
  const k = s.scale === null ? 1 : (s.scale / 100) * Math.min(W / box.width, H / box.height);
  const w = box.width * k;
  const h = box.height * k;
  const position = s.position === "auto" ? (s.scale === null ? "original" : "center") : s.position;
  let left = box.x + (box.width - w) / 2;
  let top = box.y + (box.height - h) / 2;
  if (position === "center") {
    left = (W - w) / 2;
    top = (H - h) / 2;
  } else if (position === "custom") {
    left = (s.x / 100) * (W - w);
    top = (s.y / 100) * (H - h);
  }
  return { k, left, top, width: w, height: h };
}

// Draws the composite on ctx, whose canvas is the cut-out's size times f (1 for the download).
function compose(ctx, f) {
  const s = composeSettings();
  const cut = state.cutout;
  const W = cut.width;
  const H = cut.height;
  ctx.save();
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.scale(f, f);
  if (s.background === "color") {
    ctx.fillStyle = s.color;
    ctx.fillRect(0, 0, W, H);
  } else if (s.background === "image" && state.bgImage) {
    const bg = state.bgImage; // cover: fill the canvas, keep its aspect ratio, centred
    const c = Math.max(W / bg.width, H / bg.height);
    ctx.drawImage(bg, (W - bg.width * c) / 2, (H - bg.height * c) / 2, bg.width * c, bg.height * c);
  }
  const at = placement(s, W, H, state.subject);
  if (s.shadow) {
    // a soft drop shadow of the subject's own outline, cast straight down (light from above);
    // canvas shadows ignore the transform, hence the explicit × f
    ctx.shadowColor = SHADOW.color;
    ctx.shadowBlur = SHADOW.blur * at.height * f;
    ctx.shadowOffsetX = 0;
    ctx.shadowOffsetY = SHADOW.offset * at.height * f;
  }
  const box = state.subject;
  ctx.drawImage(cut, at.left - box.x * at.k, at.top - box.y * at.k, W * at.k, H * at.k);
  ctx.restore();
}

function renderPreview() {
  const active = state.cutout !== null && composing();
  $("composed-figure").hidden = !active;
  if (!active) return;
  const canvas = $("preview");
  const f = Math.min(1, PREVIEW_MAX_SIDE / Math.max(state.cutout.width, state.cutout.height));
  canvas.width = Math.round(state.cutout.width * f);
  canvas.height = Math.round(state.cutout.height * f);
  compose(canvas.getContext("2d"), f);
  canvas.dataset.rendered = String(Number(canvas.dataset.rendered || 0) + 1);
}

let previewQueued = false;
function schedulePreview() {
  // sliders fire many input events: one drawing per frame
  if (previewQueued) return;
  previewQueued = true;
  requestAnimationFrame(() => {
    previewQueued = false;
    renderPreview();
  });
}

function updateComposeControls() {
  const background = $("background").value;
  $("bg-color-field").hidden = background !== "color";
  $("bg-image-field").hidden = background !== "image";
  $("scale").disabled = !$("resize").checked;
  $("custom-position").hidden = $("position").value !== "custom";
  $("scale-value").textContent = `${$("scale").value}%`;
  $("pos-x-value").textContent = `${$("pos-x").value}%`;
  $("pos-y-value").textContent = `${$("pos-y").value}%`;
  schedulePreview();
}

async function loadBackgroundImage(file) {
  state.bgImage = null;
  if (file) {
    try {
      state.bgImage = await createImageBitmap(file);
    } catch {
      throw new Error(`The background image ${file.name} could not be read: choose a JPEG, PNG or WebP picture.`);
    } finally {
      schedulePreview();
    }
  }
}

// ------------------------------------------------------------------ downloads

function filenameOf(res, fallback) {
  const disposition = res.headers.get("Content-Disposition") || "";
  const utf8 = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (utf8) return decodeURIComponent(utf8[1]);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  return plain ? plain[1] : fallback;
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function downloadResult() {
  if (!composing()) {
    saveBlob(state.resultBlob, state.resultName); // the server's bytes, untouched
    return;
  }
  const { width, height } = state.cutout;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  compose(canvas.getContext("2d"), 1);
  const type = $("format").value === "webp" ? "image/webp" : "image/png";
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, type, 0.95));
  if (!blob) throw new Error(`This browser could not encode a ${width}×${height} picture.`);
  const stem = state.resultName.replace(/\.[^.]*$/, "");
  saveBlob(blob, `${stem}-composed.${type === "image/webp" ? "webp" : "png"}`);
}

async function downloadZip() {
  const res = await request(state.zipUrl);
  saveBlob(await res.blob(), filenameOf(res, "batch.zip"));
}

// ------------------------------------------------------------------ wiring

function wire() {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(() => signIn($("token").value));
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("error-dismiss").addEventListener("click", clearError);
  $("files").addEventListener("change", (event) => setFiles(event.target.files));
  $("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(submit);
  });
  $("download-result").addEventListener("click", () => guarded(downloadResult));
  for (const id of ["background", "bg-color", "shadow", "resize", "scale", "position", "pos-x", "pos-y"]) {
    $(id).addEventListener("input", updateComposeControls);
    $(id).addEventListener("change", updateComposeControls);
  }
  $("bg-image").addEventListener("change", (event) => guarded(() => loadBackgroundImage(event.target.files[0])));
  $("download-zip").addEventListener("click", () => guarded(downloadZip));

  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    setFiles(event.dataTransfer.files);
  });

  if (token()) guarded(() => signIn(token()));
}

wire();
