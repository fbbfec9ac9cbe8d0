// Inference speed of ONNX image classifiers in ONNX Runtime (CPU), for bench/deploy_speed.sh.
//   node bench/ort_speed.js [--batch 128] [--threads 2] [--rounds 5] [--reps 10] A.onnx B.onnx ...
// Every model gets a session first; then, round after round, each model runs `reps` batches of
// random input in turn (the models alternate, so machine drift hits them alike), and the round's
// img/s is printed as one JSON line per model and round: {"model", "round", "img_s"}.
// onnxruntime-node is resolved from MORPHTRAIN_ORT_DIR (default: the working directory).
const path = require('path');
const ortDir = process.env.MORPHTRAIN_ORT_DIR || process.cwd();
const ort = require(require.resolve('onnxruntime-node', { paths: [ortDir] }));

function option(name, fallback) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? +process.argv[i + 1] : fallback;
}

(async () => {
  const batch = option('batch', 128), threads = option('threads', require('os').cpus().length);
  const rounds = option('rounds', 5), reps = option('reps', 10);
  const models = process.argv.slice(2).filter((a, i, all) => a.endsWith('.onnx') && !all[i - 1]?.startsWith('--'));
  const sessions = [];
  for (const file of models) {
    const session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    // The input's fixed dimensions come from the model; the batch is symbolic.
    const dims = session.inputMetadata?.[0]?.shape ?? null;
    sessions.push({ file, session, dims });
  }
  for (const s of sessions) {
    const shape = s.dims ? [batch, ...s.dims.slice(1)] : [batch, 1, 28, 28];
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map(() => Math.random() * 2 - 1);
    s.feeds = { [s.session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
    await s.session.run(s.feeds);  // warm up: first-run allocations and kernel choice
  }
  for (let round = 1; round <= rounds; ++round) {
    for (const s of sessions) {
      const start = process.hrtime.bigint();
      for (let r = 0; r < reps; ++r) await s.session.run(s.feeds);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      console.log(JSON.stringify({ model: path.basename(s.file), round, img_s: (reps * batch) / seconds }));
    }
  }
})().catch(e => { console.error('ort_speed: ' + e.message); process.exit(1); });
