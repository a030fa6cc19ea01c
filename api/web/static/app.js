// bgremover web page: sign in with a token, pick a tier, upload one image (job) or many (batch),
// follow the progress, compare before/after, download. Plain JS, same-origin requests only.
"use strict";

const API = "/api/background-remover";
const TOKEN_KEY = "bgremover.token";
const FINAL = new Set(["completed", "failed", "cancelled", "partial"]);

const $ = (id) => document.getElementById(id);
const state = { pricing: null, files: [], run: 0, resultBlob: null, resultName: "", zipUrl: "", objectUrls: [] };

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
  $("compare").hidden = false;
  $("download-result").hidden = false;
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
  $("download-result").addEventListener("click", () => saveBlob(state.resultBlob, state.resultName));
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
