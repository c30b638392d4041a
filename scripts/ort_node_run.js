// Runs an ONNX model in onnxruntime-node (a runtime this project did not write) on a raw
// little-endian float32 input file and prints the first output as JSON.
// usage: node ort_node_run.js MODEL.onnx INPUT.f32 N C H W
// The onnxruntime-node package is looked up in $MULTILABEL_NODE_MODULES, then normally.
"use strict";
const fs = require("fs");
const path = require("path");
function loadOrt() {
  const dir = process.env.MULTILABEL_NODE_MODULES;
  if (dir) return require(path.join(dir, "onnxruntime-node"));
  return require("onnxruntime-node");
}
async function main() {
  const [model, input, ...dims] = process.argv.slice(2);
  if (!model || !input || dims.length === 0) {
    console.error("usage: node ort_node_run.js MODEL.onnx INPUT.f32 DIMS...");
    process.exit(2);
  }
  const ort = loadOrt();
  const buf = fs.readFileSync(input);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const shape = dims.map(Number);
  const session = await ort.InferenceSession.create(model);
  const feeds = {[session.inputNames[0]]: new ort.Tensor("float32", data, shape)};
  const out = await session.run(feeds);
  const t = out[session.outputNames[0]];
  process.stdout.write(JSON.stringify({name: session.outputNames[0], dims: t.dims, data: Array.from(t.data)}));
}
main().catch(e => { console.error(e.message || e); process.exit(1); });
