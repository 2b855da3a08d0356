// The create form: first/last frames (drop or pick, previews, the pixel-count ratio check), prompt, model
// and options; submits to Vidu's /ent/v2 create routes and shows any refusal beside the field it concerns.

import { call } from "./api.js";

// Vidu's rule for a first/last pair: the pixel counts may differ by at most this ratio (the server checks too)
const PAIR_RATIO = [0.8, 1.25];
const KIND_WORDS = {
  first_last: "first/last frame to video",
  image: "image to video",
  text: "text to video",
  reference: "reference to video",
};
const ENDPOINTS = { first_last: "start-end2video", image: "img2video", text: "text2video" };
// a refusal's field (the server's x-error-param) -> the form control it is shown beside
const CONTROL_FOR = { wm_url: "wm_position", n: "number_of_videos" };

function readDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function imageSize(dataUrl) {
  const img = new Image();
  img.src = dataUrl;
  await img.decode();
  return { width: img.naturalWidth, height: img.naturalHeight };
}

export class CreateForm {
  /** @param {{onCreated: (taskId: string, request: object) => void, onUnauthorized: (err: Error) => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.form = document.getElementById("create-form");
    this.models = [];
    this.frames = { first: null, last: null }; // {name, type, dataUrl, width, height}
    this.button = document.getElementById("generate");
    for (const role of ["first", "last"]) {
      this.buildFrame(role);
      this.wireFrame(role);
    }
    this.form.model.addEventListener("change", () => this.modelChanged());
    this.form.duration.addEventListener("change", () => this.fillResolutions());
    this.form.watermark.addEventListener("change", () => {
      this.form.wm_position.disabled = !this.form.watermark.checked;
    });
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  /** The first or the last frame's block: label, drop zone with preview, file input, remove button. */
  buildFrame(role) {
    const id = `${role}-frame`;
    const box = document.getElementById("frame-template").content.firstElementChild.cloneNode(true);
    box.dataset.role = role;
    const label = box.querySelector("label");
    label.htmlFor = id;
    label.textContent = `${role === "first" ? "First" : "Last"} frame`;
    box.querySelector(".drop").dataset.drop = id;
    const input = box.querySelector("input");
    input.id = id;
    input.name = `${role}_frame`;
    input.setAttribute("aria-describedby", `${id}-info ${id}-error`);
    box.querySelector(".info").id = `${id}-info`;
    const clear = box.querySelector(".clear");
    clear.dataset.clear = id;
    clear.textContent = `Remove ${role} frame`;
    const error = box.querySelector(".error");
    error.id = `${id}-error`;
    error.dataset.for = input.name;
    this.form.querySelector(".frames").append(box);
  }

  wireFrame(role) {
    const input = document.getElementById(`${role}-frame`);
    const zone = this.form.querySelector(`[data-drop="${role}-frame"]`);
    input.addEventListener("change", () => this.pick(role, input.files[0] || null));
    zone.addEventListener("click", () => input.click());
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        this.pick(role, input.files[0]);
      }
    });
    this.form.querySelector(`[data-clear="${role}-frame"]`).addEventListener("click", () => {
      input.value = "";
      this.pick(role, null);
      input.focus();
    });
  }

  async pick(role, file) {
    const box = this.form.querySelector(`.frame[data-role="${role}"]`);
    const preview = box.querySelector(".preview");
    const info = box.querySelector(".info");
    this.clearError(`${role}_frame`);
    this.frames[role] = null;
    preview.hidden = true;
    preview.removeAttribute("src");
    info.textContent = "";
    box.querySelector(".clear").hidden = !file;
    box.querySelector(".drop-hint").hidden = Boolean(file);
    if (file) {
      try {
        const dataUrl = await readDataUrl(file);
        const size = await imageSize(dataUrl);
        this.frames[role] = { name: file.name, type: file.type || "image/jpeg", dataUrl, ...size };
        preview.src = dataUrl;
        preview.alt = `${role === "first" ? "First" : "Last"} frame preview, ${size.width}×${size.height}`;
        preview.hidden = false;
        info.textContent = `${file.name}: ${size.width}×${size.height}`;
      } catch {
        box.querySelector(".drop-hint").hidden = false;
        this.showError(`${role}_frame`, `${file.name} could not be read as an image (PNG, JPEG or WebP)`);
      }
    }
    this.checkRatio();
    this.kindChanged();
  }

  /** The pixel-count ratio of the pair, shown as soon as both frames are there; false when out of range. */
  checkRatio() {
    const line = document.getElementById("ratio-check");
    const { first, last } = this.frames;
    line.className = "status";
    line.textContent = "";
    if (!first || !last) return true;
    const ratio = (first.width * first.height) / (last.width * last.height);
    const [lo, hi] = PAIR_RATIO;
    const ok = ratio >= lo && ratio <= hi;
    line.classList.add(ok ? "ok" : "bad");
    line.textContent =
      `Size ratio ${ratio.toFixed(2)} (${first.width}×${first.height} vs ${last.width}×${last.height}): ` +
      (ok ? `within ${lo}–${hi}` : `must be between ${lo} and ${hi}; pick frames of closer size`);
    return ok;
  }

  kind() {
    if (this.frames.first && this.frames.last) return "first_last";
    if (this.frames.first) return "image";
    return this.frames.last ? null : "text";
  }

  setModels(models) {
    this.models = models;
    const select = this.form.model;
    select.replaceChildren(
      ...models.map((m) => {
        const option = document.createElement("option");
        option.value = m.id;
        return option;
      }),
    );
    const preferred = models.find((m) => m.id === "viduq3-pro") || models[0];
    if (preferred) select.value = preferred.id;
    this.kindChanged();
  }

  model() {
    return this.models.find((m) => m.id === this.form.model.value) || null;
  }

  /** Models that cannot make the current kind are disabled, with the reason in their label. */
  kindChanged() {
    const kind = this.kind();
    document.getElementById("kind-line").textContent = kind
      ? `This makes ${KIND_WORDS[kind]}.`
      : "A last frame needs a first frame too.";
    for (const option of this.form.model.options) {
      const m = this.models.find((x) => x.id === option.value);
      const able = !kind || m.kinds.includes(kind);
      option.disabled = !able;
      option.textContent = able ? m.id : `${m.id} (cannot make ${KIND_WORDS[kind]})`;
    }
    const selected = this.form.model.selectedOptions[0];
    if (selected && selected.disabled) {
      const able = [...this.form.model.options].find((o) => !o.disabled);
      if (able) this.form.model.value = able.value;
    }
    this.modelChanged();
  }

  modelChanged() {
    const m = this.model();
    const about = document.getElementById("model-about");
    about.replaceChildren();
    this.clearError("model");
    if (!m) return;
    const list = document.createElement("ul");
    list.className = "model-kinds";
    for (const kind of Object.keys(KIND_WORDS)) {
      const li = document.createElement("li");
      const able = m.kinds.includes(kind);
      li.className = able ? "yes" : "no";
      li.textContent = able
        ? `✓ ${KIND_WORDS[kind]}`
        : `✗ ${KIND_WORDS[kind]}: not available, the ${m.engine} engine does not make it`;
      list.append(li);
    }
    about.append(list);
    const kind = this.kind();
    if (kind && !m.kinds.includes(kind)) {
      this.showError(
        "model",
        `No configured model makes ${KIND_WORDS[kind]} (the ${m.engine} engine cannot); ` +
          "an operator can map a model to a diffusion engine.",
        false,
      );
    }
    const duration = this.form.duration;
    duration.replaceChildren(...m.durations.map((d) => new Option(String(d), String(d))));
    duration.value = String(m.default_duration);
    this.fillResolutions();
  }

  fillResolutions() {
    const m = this.model();
    if (!m) return;
    const select = this.form.resolution;
    const keep = select.value;
    select.replaceChildren(...m.resolutions.map((r) => new Option(r, r)));
    select.value = m.resolutions.includes(keep) ? keep : m.default_resolution;
  }

  /** The Vidu request body, with the inline images; null (and a message shown) when the form is not ready. */
  body() {
    const kind = this.kind();
    if (!kind) {
      this.showError("last_frame", "A last frame needs a first frame: add the first frame, or remove this one.");
      return null;
    }
    if (!this.checkRatio()) {
      const [lo, hi] = PAIR_RATIO;
      this.showError("images", `Not sent: the two frames' sizes must be closer (ratio between ${lo} and ${hi}).`);
      return null;
    }
    const f = this.form;
    const body = { model: f.model.value };
    const images = [this.frames.first, this.frames.last].filter(Boolean);
    if (images.length) body.images = images.map((i) => i.dataUrl);
    if (f.prompt.value.trim()) body.prompt = f.prompt.value;
    if (f.negative_prompt.value.trim()) body.negative_prompt = f.negative_prompt.value;
    body.duration = Number(f.duration.value);
    body.resolution = f.resolution.value;
    if (f.aspect_ratio.value) body.aspect_ratio = f.aspect_ratio.value;
    // sent as typed: the server, not the form, decides what is out of range, and says so beside the field
    if (f.seed.value !== "") body.seed = Number(f.seed.value);
    body.movement_amplitude = f.movement_amplitude.value;
    if (f.number_of_videos.value !== "" && f.number_of_videos.value !== "1") {
      body.number_of_videos = Number(f.number_of_videos.value);
    }
    if (f.watermark.checked) {
      body.watermark = true;
      body.wm_position = Number(f.wm_position.value);
    }
    return { kind, body, files: images.map((i) => ({ name: i.name, type: i.type })) };
  }

  async submit() {
    this.clearErrors();
    const status = document.getElementById("create-status");
    status.textContent = "";
    const ready = this.body();
    if (!ready) return;
    const endpoint = ENDPOINTS[ready.kind];
    this.button.disabled = true;
    status.textContent = "Submitting…";
    try {
      const task = await call(`/ent/v2/${endpoint}`, { method: "POST", body: ready.body });
      status.textContent = `Task ${task.task_id} is queued.`;
      // kept without the image bytes: the curl view reads the files back by name
      const stored = { ...ready.body };
      if (stored.images) stored.images = stored.images.map(() => "data:");
      this.hooks.onCreated(task.task_id, { endpoint, body: stored, files: ready.files });
    } catch (err) {
      status.textContent = "";
      if (err.status === 401) this.hooks.onUnauthorized(err);
      else this.showApiError(err);
    } finally {
      this.button.disabled = false;
    }
  }

  /** A refusal beside the field it is about; a whole-request refusal above the Generate button. */
  showApiError(err) {
    let field = CONTROL_FOR[err.param] || err.param || "";
    if (field.startsWith("images")) {
      // the server counts images from 1: image 1 is the first frame, image 2 the last
      field = /^image 1\b/.test(err.message)
        ? "first_frame"
        : /^image 2\b/.test(err.message)
          ? "last_frame"
          : "images";
    }
    if (!this.form.querySelector(`.error[data-for="${field}"]`)) field = "";
    this.showError(field, err.message);
  }

  /** `focus`: move the keyboard there too (after a submit; not while the person is still choosing). */
  showError(field, message, focus = true) {
    const slot = this.form.querySelector(`.error[data-for="${field}"]`);
    slot.textContent = message;
    const control = field ? this.form.elements[field] : null;
    if (control) {
      control.setAttribute("aria-invalid", "true");
      if (focus) control.focus();
    }
  }

  clearError(field) {
    const slot = this.form.querySelector(`.error[data-for="${field}"]`);
    if (slot) slot.textContent = "";
    this.form.elements[field]?.removeAttribute?.("aria-invalid");
  }

  clearErrors() {
    for (const slot of this.form.querySelectorAll(".error")) this.clearError(slot.dataset.for);
  }
}
