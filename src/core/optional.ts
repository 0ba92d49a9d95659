import { FlattenError } from './errors.js';

const loaded = new Map<string, Promise<unknown>>();

/**
 * Imports a package on first use, so that importing this library, `flatten --help`, `list` and `info` load
 * none of the engines and image codecs. A package that is not installed (tfjs and onnxruntime-web are optional
 * dependencies) becomes one named line saying what needs it and how to install it.
 */
export function importPackage<T>(name: string, purpose: string): Promise<T> {
  let p = loaded.get(name);
  if (!p) {
    p = import(name).catch((e: NodeJS.ErrnoException) => {
      loaded.delete(name);
      // sharp itself loads but cannot find its platform binary, an optional dependency of its own
      if (/Could not load the "sharp" module/.test(String(e?.message)))
        throw new FlattenError(
          'MISSING_PACKAGE',
          `${purpose} needs sharp's binary for this platform, an optional dependency that is not installed (npm install --include=optional sharp)`,
        );
      const missing = e?.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(name);
      if (!missing) throw e;
      throw new FlattenError(
        'MISSING_PACKAGE',
        `${purpose} needs the package '${name}', which is not installed (npm install ${name})`,
      );
    });
    loaded.set(name, p);
  }
  return p as Promise<T>;
}

/** The packages the tfjs engine (training, the analysis tools, the browser demo) needs: optional dependencies. */
export const TFJS_PACKAGES = ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm'];

/**
 * Loads one of our own modules that imports optional packages (`load` is a dynamic import); when one of
 * `packages` is missing, says what needed it and how to install them all.
 */
export async function importWith<T>(load: () => Promise<T>, purpose: string, packages: string[]): Promise<T> {
  try {
    return await load();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const missing = err?.code === 'ERR_MODULE_NOT_FOUND' && packages.some((p) => String(err.message).includes(p));
    if (!missing) throw e;
    throw new FlattenError(
      'MISSING_PACKAGE',
      `${purpose} needs ${packages.join(', ')}, which are optional dependencies and not installed (npm install ${packages.join(' ')})`,
    );
  }
}
