// The playground, enhanced: live estimates as fields change, elapsed time while running, results and history
// swapped in place. Every action is also a plain form POST, so the page works without this script.
(() => {
  const form = document.getElementById("pg-form");
  if (!form) return;
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const models = JSON.parse(document.getElementById("pg-models").textContent);
  const status = document.getElementById("pg-status");
  const runButton = document.getElementById("pg-run");
  const imagesInput = document.getElementById("pg-images");
  const maskInput = document.getElementById("pg-mask");
  let picked = [];  // reference images (File), from the picker or dropped
  let estimateTimer = null;
  let estimateSeq = 0;

  // Hook for streaming partial images (the streaming issue): called with each partial frame's data URL.
  window.imagegatePlayground = { onPartialImage: null };

  function swap(html) {
    for (const [id, fragment] of Object.entries(html || {})) {
      const el = document.getElementById(id);
      if (el) el.innerHTML = fragment;
    }
  }

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST", body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
    });
    let data = null;
    try { data = await res.json(); } catch (err) { data = null; }
    if (!res.ok && !(data && data.html)) {
      const message = (data && data.error && data.error.message) || `The server answered ${res.status}.`;
      throw new Error(message);
    }
    return data;
  }

  function formData() {
    const data = new FormData(form);
    data.delete("image[]");
    for (const file of picked) data.append("image[]", file, file.name);
    if (maskInput && !(maskInput.files && maskInput.files.length)) data.delete("mask");
    return data;
  }

  function current() {
    return models.find((m) => m.id === form.elements.model.value) || models[0];
  }

  function fillSelect(select, values, chosen, label) {
    select.replaceChildren(new Option(label, ""));
    for (const v of values) select.add(new Option(v.name || v, v.id || v, false, (v.id || v) === chosen));
  }

  function applyModel() {
    const m = current();
    for (const el of form.querySelectorAll("[data-needs]")) {
      const need = m[el.dataset.needs];
      el.hidden = Array.isArray(need) ? need.length === 0 : !need;
    }
    fillSelect(form.elements.aspect_ratio, m.aspect_ratios, form.elements.aspect_ratio.value, "default");
    fillSelect(form.elements.resolution, m.resolutions, form.elements.resolution.value, "default");
    fillSelect(form.elements.quality, m.qualities, form.elements.quality.value, "default");
    fillSelect(form.elements.provider, m.providers, form.elements.provider.value, "Let the router choose");
    document.getElementById("pg-sizes").replaceChildren(...m.sizes.map((s) => new Option(s, s)));
    document.getElementById("pg-max-images").textContent = `(up to ${m.max_input_images})`;
    form.elements.n.max = m.max_n;
    if (picked.length > m.max_input_images) picked = picked.slice(0, m.max_input_images);
    renderPreviews();
    const url = new URL(window.location.href);
    url.searchParams.set("model", m.id);
    history.replaceState(null, "", url);
  }

  function preview(container, files, removable) {
    container.replaceChildren();
    files.forEach((file, i) => {
      const fig = document.createElement("figure");
      const img = document.createElement("img");
      img.alt = file.name;
      img.src = URL.createObjectURL(file);
      img.onload = () => URL.revokeObjectURL(img.src);
      const cap = document.createElement("figcaption");
      cap.textContent = file.name;
      fig.append(img, cap);
      if (removable) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "pg-link";
        remove.textContent = "Remove";
        remove.addEventListener("click", () => { picked.splice(i, 1); renderPreviews(); scheduleEstimate(); });
        fig.append(remove);
      }
      container.append(fig);
    });
  }

  function renderPreviews() {
    preview(document.getElementById("pg-previews"), picked, true);
    if (maskInput) preview(document.getElementById("pg-mask-preview"), Array.from(maskInput.files || []), false);
    runButton.textContent = picked.length ? "Edit" : "Generate";
  }

  function addFiles(files) {
    const max = current().max_input_images;
    for (const f of files) if (f.type.startsWith("image/") && picked.length < max) picked.push(f);
    renderPreviews();
    scheduleEstimate();
  }

  function applySizeMode() {
    const bySize = form.querySelector("input[name=size_mode]:checked").value === "size";
    for (const el of form.querySelectorAll(".pg-by-size")) el.hidden = !bySize;
    for (const el of form.querySelectorAll(".pg-by-aspect")) el.hidden = bySize;
  }
  for (const radio of form.querySelectorAll("input[name=size_mode]")) radio.addEventListener("change", applySizeMode);

  function scheduleEstimate() {
    clearTimeout(estimateTimer);
    estimateTimer = setTimeout(runEstimate, 300);
  }

  async function runEstimate() {
    const seq = ++estimateSeq;
    try {
      const data = await post("/playground/estimate", formData());
      if (seq === estimateSeq) swap(data.html);
    } catch (err) {
      if (seq === estimateSeq) document.getElementById("pg-estimates").textContent = err.message;
    }
  }

  if (imagesInput) {
    imagesInput.addEventListener("change", () => { addFiles(Array.from(imagesInput.files)); imagesInput.value = ""; });
    const drop = document.getElementById("pg-drop");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("pg-over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("pg-over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("pg-over");
      addFiles(Array.from(e.dataTransfer.files));
    });
  }
  if (maskInput) maskInput.addEventListener("change", () => { renderPreviews(); scheduleEstimate(); });

  form.addEventListener("input", (e) => { if (e.target.type !== "file") scheduleEstimate(); });
  form.elements.model.addEventListener("change", () => { applyModel(); scheduleEstimate(); });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const started = performance.now();
    runButton.disabled = true;
    const tick = () => { status.textContent = `Running… ${((performance.now() - started) / 1000).toFixed(1)} s`; };
    tick();
    const timer = setInterval(tick, 100);
    try {
      const data = await post("/playground", formData());
      swap(data.html);
      status.textContent = data.error ? "" : `Done in ${((performance.now() - started) / 1000).toFixed(1)} s`;
    } catch (err) {
      document.getElementById("pg-result").textContent = "";
      const box = document.createElement("p");
      box.className = "pg-error";
      box.setAttribute("role", "alert");
      box.textContent = err.message;
      document.getElementById("pg-result").append(box);
      status.textContent = "";
    } finally {
      clearInterval(timer);
      runButton.disabled = false;
    }
  });

  // Publish / unpublish forms (in results and history) post in place.
  document.addEventListener("submit", async (event) => {
    const target = event.target;
    if (!target.classList || !target.classList.contains("js-async")) return;
    event.preventDefault();
    const button = target.querySelector("button");
    if (button) button.disabled = true;
    try {
      const data = await post(target.action, new FormData(target));
      swap(data.html);
      if (target.closest("#pg-result") && target.action.endsWith("/publish")) {
        const link = document.createElement("a");
        link.className = "pg-button";
        link.href = "/gallery";
        link.textContent = "In the gallery";
        target.replaceWith(link);
      }
    } catch (err) {
      if (button) { button.disabled = false; button.textContent = err.message; }
    }
  });

  applyModel();
  applySizeMode();
})();
