// A module-resolve hook that refuses the engines and the image codec, to prove which entry points load them.
// Used as `node --import ./test/api/deny_engines.mjs …` by test/api/lazy.test.ts.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
      const DENIED = /^(@tensorflow\\/|onnxruntime-|sharp$)/;
      export async function resolve(specifier, context, next) {
        if (DENIED.test(specifier)) throw new Error('deny_engines: refused to load ' + specifier);
        return next(specifier, context);
      }
    `),
);
