// Butler console: dependent choices and the live estimate on the request
// form, and the live progress of a migration run. Everything else is
// plain HTML forms.
"use strict";

function requestForm(form) {
  const division = form.querySelector("#division");
  const unit = form.querySelector("#unit");
  const env = form.querySelector("#environment");
  const image = form.querySelector("#image");
  const disks = form.querySelector("#disks_gib");
  const out = document.getElementById("estimate-body");

  // Division → its management units; environment → its VLANs.
  function filter() {
    for (const o of unit.options) {
      if (!o.value) continue;
      const show = !division.value || o.dataset.division === division.value;
      o.hidden = !show;
      if (!show && o.selected) unit.value = "";
    }
    for (const l of form.querySelectorAll("[data-env]")) {
      const show = l.dataset.env === env.value;
      l.hidden = !show;
      if (!show) l.querySelector("input").checked = false;
    }
    const opt = image.selectedOptions[0];
    disks.title = opt && opt.dataset.size ? "≥ " + opt.dataset.size + " GiB" : "";
  }

  let timer = null;
  async function estimate() {
    const body = new URLSearchParams(new FormData(form));
    try {
      const res = await fetch(form.dataset.estimate, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      if (res.ok) out.innerHTML = await res.text();
    } catch (_) {
      /* the estimate is a convenience; the form still works */
    }
  }
  function later() {
    clearTimeout(timer);
    timer = setTimeout(estimate, 250);
  }
  division.addEventListener("change", filter);
  env.addEventListener("change", filter);
  image.addEventListener("change", filter);
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  filter();
  estimate();
}

function progressView(view) {
  if (view.dataset.ended === "true") return;
  const bar = document.getElementById("progress");
  const pct = document.getElementById("percent");
  const list = document.getElementById("events");
  const source = new EventSource("/api/runs/" + view.dataset.run + "/events");
  source.addEventListener("progress", (m) => {
    const e = JSON.parse(m.data);
    const p = Math.round(e.percent);
    bar.value = p;
    pct.textContent = p + " %";
    const li = document.createElement("li");
    li.textContent = [e.step, e.vm || e.protection_group || "", JSON.stringify(e.outcome)].join(" ");
    list.appendChild(li);
  });
  source.addEventListener("end", () => {
    source.close();
    bar.value = 100;
    pct.textContent = "100 %";
    view.dataset.ended = "true";
    setTimeout(() => location.reload(), 300);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("request-form");
  if (form) requestForm(form);
  const view = document.getElementById("progress-view");
  if (view) progressView(view);
  // A request being provisioned shows its steps as they happen.
  const live = document.querySelector("[data-refresh]");
  if (live) setTimeout(() => location.reload(), 1000 * Number(live.dataset.refresh));
});
