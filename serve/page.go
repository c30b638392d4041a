package serve

import (
	"net/http"
	"strings"
)

// tokenBoxHidden is the page's token box as pageHTML has it: hidden, for a server
// without a token; servePage shows it when the server needs one.
const tokenBoxHidden = `<p id="tokenbox" hidden>`

// servePage serves the drop-an-image page: plain HTML, inline CSS and script, nothing
// fetched from elsewhere. The token box is shown only when the server has a token.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	page := pageHTML
	if s.opt.Token != "" {
		page = strings.Replace(page, tokenBoxHidden, `<p id="tokenbox">`, 1)
	}
	_, _ = w.Write([]byte(page))
}

const pageHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>multilabel</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px system-ui,sans-serif;max-width:760px;margin:2em auto;padding:0 1em;color:#222}
#drop{border:2px dashed #888;border-radius:8px;padding:2em;text-align:center;cursor:pointer}
#drop.over{background:#eef}
#preview{max-width:100%;max-height:320px;display:block;margin:1em auto}
.row{display:flex;align-items:center;margin:3px 0}
.name{width:30%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar{flex:1;background:#eee;height:16px;border-radius:3px;position:relative}
.fill{background:#999;height:100%;border-radius:3px}
.on .fill{background:#2a7}
.on .name{font-weight:bold}
.tick{position:absolute;top:-2px;bottom:-2px;width:2px;background:#c33}
.val{width:4.5em;text-align:right;font-variant-numeric:tabular-nums}
#err{color:#b00}
.note{color:#555;font-size:13px}
#labelnames{color:#555}
#maps{display:flex;flex-wrap:wrap;gap:8px}
#maps figure{margin:0;text-align:center;font-size:13px}
#maps img{width:160px;display:block}
</style></head><body>
<h1>multilabel</h1>
<p id="model">loading model…</p>
<p id="labelnames" class="note"></p>
<div id="drop">Drop an image here, or click to choose one.<input id="file" type="file" accept="image/*" hidden></div>
<p id="tokenbox" hidden><label>Token (this server needs one): <input id="token" type="password" size="24"></label></p>
<img id="preview" alt="">
<p id="err"></p>
<p id="legend" class="note" hidden>Each bar is a label's score (0 to 1); the red tick marks that label's threshold. A label is predicted — green and bold — when its score reaches its tick.</p>
<div id="labels" aria-live="polite"></div>
<p id="mapnote" class="note" hidden>Where the model sees each predicted label: the image as the model saw it (resized and cropped), coloured from blue (least) to red (most).</p>
<div id="maps"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function headers() {
  const t = $("token").value;
  return t ? {"Authorization": "Bearer " + t} : {};
}
let explain = false; // the model draws activation maps: ask for them (explain=1)
function loadModel() {
  return fetch("v1/model", {headers: headers()}).then(r => r.json()).then(m => {
    explain = m.explain === true;
    if (!m.labels) return;
    const id = String(m.id || "");
    let text = "Model " + (id.length > 12 ? id.slice(0, 12) + "…" : id);
    if (m.trained) text += ", trained " + String(m.trained).replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
    text += " — " + m.labels.length + " labels";
    $("model").textContent = text;
    $("model").title = id;
    const max = 40;
    $("labelnames").textContent = "Labels: " + m.labels.slice(0, max).join(", ") + (m.labels.length > max ? ", … (" + (m.labels.length - max) + " more)" : "");
  }).catch(() => {});
}
function show(res) {
  const box = $("labels");
  box.textContent = "";
  const r = res.results[0];
  const on = new Set(r.labels.map(l => l.label));
  const rows = r.scores.slice().sort((a, b) => b.score - a.score);
  for (const s of rows) {
    const row = document.createElement("div");
    row.className = "row" + (on.has(s.label) ? " on" : "");
    row.dataset.label = s.label;
    row.dataset.score = s.score;
    const name = document.createElement("span"); name.className = "name"; name.textContent = s.label;
    const bar = document.createElement("span"); bar.className = "bar";
    const fill = document.createElement("span"); fill.className = "fill"; fill.style.display = "block";
    fill.style.width = (100 * s.score).toFixed(1) + "%";
    const tick = document.createElement("span"); tick.className = "tick"; tick.style.left = (100 * s.threshold).toFixed(1) + "%";
    tick.title = "threshold " + s.threshold.toFixed(3);
    bar.append(fill, tick);
    const val = document.createElement("span"); val.className = "val"; val.textContent = s.score.toFixed(3);
    row.append(name, bar, val);
    box.append(row);
  }
  $("legend").hidden = false;
  const maps = $("maps");
  maps.textContent = "";
  for (const m of (r.explain || [])) {
    const fig = document.createElement("figure");
    const im = document.createElement("img");
    im.className = "map"; im.src = "data:image/png;base64," + m.png; im.alt = "where the model sees " + m.label;
    const cap = document.createElement("figcaption"); cap.textContent = m.label;
    fig.append(im, cap);
    maps.append(fig);
  }
  $("mapnote").hidden = !(r.explain && r.explain.length);
  document.body.dataset.predicted = r.labels.map(l => l.label).join(",");
  document.body.dataset.state = "done";
}
function send(file) {
  $("err").textContent = "";
  $("preview").src = URL.createObjectURL(file);
  document.body.dataset.state = "busy";
  ready.then(() => fetch("v1/predict" + (explain ? "?explain=1" : ""), {method: "POST", body: file, headers: Object.assign({"Content-Type": file.type || "application/octet-stream"}, headers())}))
    .then(r => r.json().then(j => ({ok: r.ok, j})))
    .then(({ok, j}) => { if (!ok) throw new Error(j.error || "request failed"); show(j); })
    .catch(e => { $("err").textContent = e.message; document.body.dataset.state = "error"; });
}
const drop = $("drop");
drop.addEventListener("click", () => $("file").click());
$("file").addEventListener("change", e => { if (e.target.files[0]) send(e.target.files[0]); });
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) send(e.dataTransfer.files[0]); });
let ready = loadModel();
$("token").addEventListener("change", () => { ready = loadModel(); });
</script>
</body></html>
`
