// Times the one-layer models of bench/ort_latency_table.py in ONNX Runtime (CPU), for a latency
// table measured there (driven by bench/ort_latency_table.sh).
//   node bench/ort_latency_table.js MANIFEST.json [--threads N] [--reps 7]
// Per cell: a session with all graph optimizations (as a deployed model gets), two warm-up runs,
// then the median of `reps` timed runs, printed as one JSON line {"file", "ns"}. Progress goes to
// stderr. onnxruntime-node is resolved from MORPHTRAIN_ORT_DIR (default: the working directory).
const fs = require('fs');
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
    const session = await ort.InferenceSession.create(cell.file, {
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    const size = cell.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size).map(() => Math.random() * 2 - 1);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, cell.shape) };
    for (let w = 0; w < 2; ++w) await session.run(feeds);
    const times = [];
    for (let r = 0; r < reps; ++r) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0));
    }
    times.sort((a, b) => a - b);
    console.log(JSON.stringify({ file: cell.file, ns: times[Math.floor(times.length / 2)] }));
    await session.release();
  }
  process.stderr.write(`${cells.length} cells in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
})().catch(e => { console.error('ort_latency_table: ' + e.message); process.exit(1); });
