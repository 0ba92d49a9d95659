// A tour of the API: models, pipelines, ONNX export and serving, and the paper's two analyses.
//   npx tsx examples/api_tour.ts
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  blockRanks,
  captureFocused,
  createModel,
  exportOnnx,
  extractFeatures,
  listModels,
  loadOnnx,
  modelInfo,
  pipeline,
  runExported,
} from 'flatten-transformer';
import { writeFileAtomic } from 'flatten-transformer/io';

// the registry, timm style; official checkpoints load with createModel(name, { checkpoint: 'file.pth' })
console.log(listModels('flatten_pvt_v2*').join(' '));
const info = modelInfo('flatten_swin_t');
console.log(
  `flatten_swin_t: ${info.parameters.toLocaleString('en-US')} parameters, ${(info.macs / 1e9).toFixed(2)} GMACs`,
);

// a model with its weights (here the shipped ones), as a pipeline on either engine
const fm = createModel('flatten_deit_fmnist');
const classify = await pipeline('image-classification', fm, { engine: 'onnx', topK: 1 });
const [[best]] = await classify(['examples/images/sneaker.png']);
console.log(`onnx: ${best.label} (${best.score.toFixed(3)})`);
const int8 = await pipeline('image-classification', 'flatten_deit_fmnist', { dtype: 'q8', topK: 1 }); // fp16, q4 too
const [[bestQ8]] = await int8(['examples/images/sneaker.png']);
console.log(`q8: ${bestQ8.label} (${bestQ8.score.toFixed(3)})`);
const extract = await pipeline('image-feature-extraction', fm, { engine: 'tfjs' });
console.log(`pooled features: ${(await extract('examples/images/bag.png')).shape.join('×')}`);

// export to an .onnx file (input pixel_values; outputs logits, pooler_output) and serve it
const file = join(mkdtempSync(join(tmpdir(), 'flatten-tour-')), 'fmnist.onnx');
writeFileAtomic(file, exportOnnx({ name: fm.name, checkpoint: fm.weights }).bytes);
const session = await loadOnnx(file, { threads: 1 });
const images = { dtype: 'float32' as const, shape: [2, 1, 28, 28], data: new Float32Array(2 * 28 * 28) };
const { logits } = await runExported(session, images, { reuseOutputs: true });
console.log(`exported graph: logits ${logits.shape.join('×')}`);
await Promise.all([classify.dispose(), int8.dispose(), session.release()]);

// a backbone, timm style, at any H×W: the stage maps (NCHW) a detection or segmentation head reads
const backbone = createModel('flatten_pvt_v2_b0', { featuresOnly: true, outIndices: [1, 2, 3], imgSize: [224, 288] });
console.log(backbone.featureInfo.map((f) => `stage ${f.stage}: ${f.channels} ch, 1/${f.reduction}`).join('; '));
const pixels = { dtype: 'float32' as const, shape: [1, 3, 224, 288], data: new Float32Array(3 * 224 * 288) };
const maps = await extractFeatures(backbone, pixels, { engine: 'onnx' });
console.log(`feature maps: ${maps.map((t) => t.shape.join('×')).join(', ')}`);

// the paper's rank analysis on the model's own q and k: linear attention ≤ head dim, with DWC full rank
const x = { dtype: 'float32' as const, shape: [1, 1, 28, 28], data: new Float32Array(784).map((_, i) => Math.sin(i)) };
const { blocks } = await captureFocused(fm.model, fm.weights, x);
const [r] = blockRanks(blocks[0]);
console.log(
  `${r.block}: rank ${r.rank_linear} without DWC, ${r.rank_equivalent} with it (${r.tokens} tokens, head dim ${r.head_dim})`,
);
