// ort_check.js MODEL.onnx OUTDIR STEPS — runs MODEL (kiln export's output)
// in onnxruntime on the last batch of OUTDIR/input_0.bin and compares each
// output with OUTDIR/kiln_out_K.bin (kiln's P_run_v after training).
// Exit 1 when they differ beyond rtol 1e-4 + atol 1e-5.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(process.env.KILN_ORT_DIR || __dirname, 'node_modules', 'onnxruntime-node'));

async function main() {
  const [model, out, steps] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const meta = session.inputNames[0];
  const all = fs.readFileSync(path.join(out, 'input_0.bin'));
  const per = all.length / Number(steps);
  const last = all.subarray(all.length - per);
  const x = new Float32Array(last.buffer.slice(last.byteOffset, last.byteOffset + per));
  const dims = JSON.parse(fs.readFileSync(path.join(out, 'input_0.dims.json')));
  const result = await session.run({ [meta]: new ort.Tensor('float32', x, dims) });
  let ok = true;
  session.outputNames.forEach((name, k) => {
    const got = result[name].data;
    const raw = fs.readFileSync(path.join(out, `kiln_out_${k}.bin`));
    const want = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      worst = Math.max(worst, d);
      if (!(d <= 1e-5 + 1e-4 * Math.abs(want[i]))) ok = false;
    }
    console.log(`onnxruntime vs kiln, output '${name}': ${want.length} values, max abs diff ${worst.toExponential(3)}`);
  });
  console.log(ok ? 'PASS' : 'FAIL');
  process.exit(ok ? 0 : 1);
}
main().catch((e) => { console.error(e.message); process.exit(1); });
