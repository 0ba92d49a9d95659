// The browser entry, flatten-transformer/web: the pipeline on onnxruntime-web. Written for a page; it runs in
// Node as well (onnxruntime-web's wasm build), which is how this file is checked.
//   npx tsx examples/browser_entry.ts
import { readFileSync } from 'node:fs';
import { pipeline } from 'flatten-transformer/web';

// a registry name: the ONNX graph is built where this runs, from the weights given (in a page: a URL)
const classify = await pipeline('image-classification', 'flatten_deit_fmnist', {
  weights: readFileSync('weights/flatten_deit_fmnist.safetensors'),
  device: 'auto', // WebGPU where the browser has it, else wasm
  onProgress: (p) => p.stage === 'session' && p.loaded > 0 && console.log(`session ready (${p.loaded} bytes of graph)`),
});
console.log(`${classify.info.name} on ${classify.device}, ${classify.threads} thread(s), ${classify.info.dtype}`);

// images: PNG bytes here; in a page also an <img>, a canvas, ImageData, a Blob or a URL
for (const file of ['examples/images/sneaker.png', 'examples/images/bag.png']) {
  const [top] = await classify(readFileSync(file), { topk: 1 });
  console.log(`${file} ${top.label} ${top.score.toFixed(3)}`);
}
await classify.dispose();
