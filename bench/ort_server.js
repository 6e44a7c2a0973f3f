// ort_server.js — onnxruntime (npm onnxruntime-node) for bench/whole.py,
// which drives it line by line over stdin/stdout so that its samples
// alternate with kiln's and torch's in one run. Sessions are single-threaded
// (intraOpNumThreads 1, interOpNumThreads 1, sequential) with all graph
// optimizations. Commands, each answered "ok [VALUE]" or "error MESSAGE":
//   ping
//   load NAME MODEL.onnx DIMS IN.raw OUT.raw   session for input "x" of shape
//        DIMS (e.g. 64x1x28x28, float32 from IN.raw); runs once, writes the
//        output "logits" to OUT.raw (whole.py checks it against torch)
//   run NAME N                                 N awaited calls; "ok NS": CPU ns per call
const ort = require('onnxruntime-node');
const fs = require('fs');
const readline = require('readline');

const sessions = {};

async function load(name, path, dims, inPath, outPath) {
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const shape = dims.split('x').map(Number);
  const buf = fs.readFileSync(inPath);
  const data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const feeds = { x: new ort.Tensor('float32', Float32Array.from(data), shape) };
  const out = await session.run(feeds);
  fs.writeFileSync(outPath, Buffer.from(out.logits.data.buffer, out.logits.data.byteOffset,
                                        out.logits.data.byteLength));
  sessions[name] = { session, feeds };
}

// CPU time of the process (the JS thread and onnxruntime's), not wall time:
// the machine is shared (kiln_bench and whole.py count CPU time too).
async function run(name, n) {
  const s = sessions[name];
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++)
    await s.session.run(s.feeds);
  const t = process.cpuUsage(t0);
  return (t.user + t.system) * 1000 / n;
}

async function handle(words) {
  switch (words[0]) {
  case 'ping': return '';
  case 'load': await load(words[1], words[2], words[3], words[4], words[5]); return '';
  case 'run': return String(await run(words[1], Number(words[2])));
  default: throw new Error('unknown command ' + words[0]);
  }
}

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    try {
      const value = await handle(line.trim().split(/\s+/));
      process.stdout.write('ok ' + value + '\n');
    } catch (e) {
      process.stdout.write('error ' + String(e.message).replace(/\n/g, ' ') + '\n');
    }
  });
});
