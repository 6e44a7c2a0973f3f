// ort_eval.js — run.sh's last step: evaluates the model kiln exported
// (kiln export) in onnxruntime on the whole test set, and compares each
// prediction with kiln's own (the logits predict.c wrote).
//   node ort_eval.js TRAINED.onnx KILN_LOGITS.f32 [DATA_DIR]
// onnxruntime-node comes from $KILN_ORT_DIR/node_modules (default: the
// checkout's build/ort, where scripts/setup.sh installs it). Exit 1 when more
// than a handful of predictions differ, or one differs where the two top
// logits are not a near tie.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const ortDir = process.env.KILN_ORT_DIR || path.join(__dirname, '..', '..', 'build', 'ort');
const ort = require(path.resolve(ortDir, 'node_modules', 'onnxruntime-node'));

const CLASSES = 10;
const MAX_DISAGREE = 5; // "a handful"
const TIE = 1e-3;       // a disagreement is a near tie when the logits are this close

// Reads DIR/NAME.gz (or DIR/NAME) of the IDX format: a big-endian header
// (magic, count, then rows and cols for images), then one byte per value.
function readIdx(dir, name) {
  const gz = path.join(dir, `${name}.gz`);
  const buf = fs.existsSync(gz) ? zlib.gunzipSync(fs.readFileSync(gz))
                                : fs.readFileSync(path.join(dir, name));
  const rank = buf.readUInt32BE(0) & 0xff;
  const dims = [];
  for (let i = 0; i < rank; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  return { dims, data: buf.subarray(4 + 4 * rank) };
}

// The first of equal maxima, as kiln's examples count it.
function argmax(z, off) {
  let best = 0;
  for (let k = 1; k < CLASSES; k++) if (z[off + k] > z[off + best]) best = k;
  return best;
}

// Runs all images through the session in batches of the size the model's
// input takes (a fixed first dim; 1000 when it is symbolic); the last batch
// is padded with blank images whose outputs are dropped. Returns the logits.
async function runAll(session, images) {
  const meta = session.inputMetadata && session.inputMetadata[0];
  const shape = meta && meta.shape ? meta.shape.slice() : ['N', 1, 28, 28];
  const batch = typeof shape[0] === 'number' ? shape[0] : 1000;
  const pixels = shape.slice(1).reduce((a, b) => a * b, 1);
  const [count, rows, cols] = images.dims;
  if (pixels !== rows * cols) throw new Error(`the model takes ${pixels} pixels, the data ${rows}x${cols}`);
  shape[0] = batch;
  const logits = new Float32Array(count * CLASSES);
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const x = new Float32Array(batch * pixels); // zero padding past n
    for (let i = 0; i < n * pixels; i++) x[i] = images.data[start * pixels + i] / 255;
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, shape) });
    logits.set(out[session.outputNames[0]].data.subarray(0, n * CLASSES), start * CLASSES);
  }
  return { logits, batch };
}

async function main() {
  const [model, kilnFile, dataDir = '/usr/share/datasets/fashion-mnist'] = process.argv.slice(2);
  const images = readIdx(dataDir, 't10k-images-idx3-ubyte');
  const labels = readIdx(dataDir, 't10k-labels-idx1-ubyte').data;
  const raw = fs.readFileSync(kilnFile);
  const kiln = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const count = images.dims[0];
  if (kiln.length !== count * CLASSES) throw new Error(`${kilnFile}: not ${count} x ${CLASSES} logits`);

  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const t0 = process.hrtime.bigint();
  const { logits, batch } = await runAll(session, images);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;

  let ortOk = 0, kilnOk = 0, worst = 0, far = 0;
  const disagree = [];
  for (let i = 0; i < count; i++) {
    const o = i * CLASSES, po = argmax(logits, o), pk = argmax(kiln, o);
    ortOk += po === labels[i];
    kilnOk += pk === labels[i];
    for (let k = 0; k < CLASSES; k++) worst = Math.max(worst, Math.abs(logits[o + k] - kiln[o + k]));
    if (po !== pk) { // how close the two winners are, in each runtime's logits
      const gap = Math.max(logits[o + po] - logits[o + pk], kiln[o + pk] - kiln[o + po]);
      disagree.push(`  image ${i}: onnxruntime says ${po}, kiln ${pk} (logit gap ${gap.toExponential(2)})`);
      far += gap > TIE;
    }
  }
  console.log(`onnxruntime: test accuracy ${(ortOk / count).toFixed(4)} (${ortOk}/${count}), ` +
              `batch ${batch}, ${ms.toFixed(0)} ms (onnxruntime-node ${ort.env.versions ? ort.env.versions.common : ''})`);
  console.log(`kiln:        test accuracy ${(kilnOk / count).toFixed(4)} (${kilnOk}/${count})`);
  console.log(`${disagree.length} of ${count} predictions differ; largest logit difference ` +
              `${worst.toExponential(2)}`);
  disagree.slice(0, 20).forEach((line) => console.log(line));
  const ok = disagree.length <= MAX_DISAGREE && far === 0;
  console.log(ok ? 'the exported model agrees with kiln'
                 : `FAIL: more than ${MAX_DISAGREE} differ, or one differs beyond a near tie (${TIE})`);
  process.exit(ok ? 0 : 1);
}
main().catch((e) => { console.error(`error: ${e.message}`); process.exit(1); });
