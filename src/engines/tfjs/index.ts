/** `flatten-transformer/tfjs`: the TensorFlow.js engine (training and the browser), for direct use. */
export { TfjsOps } from './ops.js';
export { initTfjs } from './backend.js';
export { runTfjs } from './run.js';
