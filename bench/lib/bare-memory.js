// The memory baseline, run as its own process: `node bare-memory.js <warm-up file> <big file>
// <photo file> <clients>`. It runs the bare pipeline (probe + derivatives, no HTTP, no DB) after the
// same warm-up as the server gets and prints the RSS growth of each step as one JSON line.
import { makeDerivatives, probeImage } from '../../dist/image/image-processor.js';
import { watchMemory } from './memory.js';

const [warmup, big, photo, clients] = process.argv.slice(2);
const MAX_PIXELS = 100_000_000;
const run = async (file) => {
  await probeImage(file, MAX_PIXELS);
  await makeDerivatives(file, MAX_PIXELS);
};
const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));

for (let i = 0; i < 3; i++) await run(warmup);
await settle();
let watch = watchMemory(process.pid, 5);
await run(big);
const single = watch.stop();
await settle();
watch = watchMemory(process.pid, 5);
await Promise.all(Array.from({ length: Number(clients) }, () => run(photo)));
const parallel = watch.stop();
process.stdout.write(`${JSON.stringify({ single, parallel })}\n`);
