// Times the one-layer models of bench/ort_latency_table.py in ONNX Runtime (CPU), for a latency
// table measured there (driven by bench/ort_latency_table.sh).
//   node bench/ort_latency_table.js MANIFEST.json [--threads N] [--reps 7]
// Per cell: a session with all graph optimizations (as a deployed model gets), two warm-up runs,
// then the median over `reps` runs of the kernels' time (ONNX Runtime's profiler), printed as one
// JSON line {"file", "ns"}. Progress goes to
// stderr. onnxruntime-node is resolved from MORPHTRAIN_ORT_DIR (default: the working directory).
const fs = require('fs');
const path = require('path');
const ortDir = process.env.MORPHTRAIN_ORT_DIR || process.cwd();
const ort = require(require.resolve('onnxruntime-node', { paths: [ortDir] }));

function option(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? +process.argv[i + 1] : fallback;
}

(async () => {
  const threads = option('threads', require('os').cpus().length), reps = option('reps', 7);
  const cells = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')).cells;
  const start = Date.now();
  let layer = -1;
  for (const cell of cells) {
    if (cell.layer !== layer) {
      layer = cell.layer;
      process.stderr.write(`layer ${layer + 1}: ${((Date.now() - start) / 1000).toFixed(1)} s so far\n`);
    }
    // Timed by ONNX Runtime's own profiler: the kernels' time in each run, without what node adds
    // around a run (copying the layer's whole output into JavaScript, which a network does not do
    // between its layers).
    const prefix = path.join(path.dirname(cell.file), path.basename(cell.file, '.onnx') + '.profile');
    const session = await ort.InferenceSession.create(cell.file, {
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
      enableProfiling: true, profileFilePrefix: prefix });
    const size = cell.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size).map(() => Math.random() * 2 - 1);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, cell.shape) };
    for (let r = 0; r < 2 + reps; ++r) await session.run(feeds);  // two warm-up runs first
    session.endProfiling();
    const file = fs.readdirSync(path.dirname(prefix)).find(f => f.startsWith(path.basename(prefix)));
    const events = JSON.parse(fs.readFileSync(path.join(path.dirname(prefix), file), 'utf8'));
    const runs = events.filter(e => e.cat === 'Session' && e.name === 'model_run').slice(2);
    const kernels = events.filter(e => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    const times = runs.map(run => 1000 * kernels.filter(k => k.ts >= run.ts && k.ts <= run.ts + run.dur)
                                               .reduce((sum, k) => sum + k.dur, 0));
    times.sort((a, b) => a - b);
    console.log(JSON.stringify({ file: cell.file, ns: times[Math.floor(times.length / 2)] }));
    await session.release();
  }
  process.stderr.write(`${cells.length} cells in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
})().catch(e => { console.error('ort_latency_table: ' + e.message); process.exit(1); });
