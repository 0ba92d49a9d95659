/** The tfjs backends the engine runs on, in a module that loads no tfjs (public option types name it). */
export type TfjsBackend = 'wasm' | 'cpu';
