/** The model the demo runs: shipped in the package, so the demo needs no downloads. */
export const DEMO_MODEL = 'flatten_deit_fmnist';
