#!/usr/bin/env bash
# The lean install, measured: pack this package, install the tarball into a fresh app without optional
# dependencies, report node_modules' size, typecheck a consumer with skipLibCheck off, and run the CLI there.
#   bash bench/install.sh            (needs the npm registry; writes only under a temporary folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
(cd "$root" && npm run build >/dev/null && npm pack --pack-destination "$work" >/dev/null 2>&1)
mkdir "$work/app" && cd "$work/app"
echo '{"name":"app","version":"1.0.0","type":"module","private":true}' > package.json
ONNXRUNTIME_NODE_INSTALL=skip npm install "$work"/flatten-transformer-*.tgz --omit=optional --no-audit --no-fund >/dev/null 2>&1
echo "node_modules with --omit=optional: $(du -sm node_modules | cut -f1) MiB"
du -sm node_modules/* node_modules/@*/* 2>/dev/null | sort -n | tail -4 | sed 's/^/  /'
ONNXRUNTIME_NODE_INSTALL=skip npm install -D typescript@5.9.3 @types/node@20 --omit=optional --no-audit --no-fund >/dev/null 2>&1
cat > index.ts <<'TS'
import { createModel, listModels, pipeline, type LoadedModel } from 'flatten-transformer';
import { exportModule, Module, ParamTable, runModule } from 'flatten-transformer/nn';
import { readNpy, readPth } from 'flatten-transformer/io';
import { OnnxSession } from 'flatten-transformer/onnx';
const m: LoadedModel = createModel('flatten_deit_fmnist');
console.log(listModels().length, m.name, [pipeline, exportModule, Module, ParamTable, runModule, readNpy, readPth, OnnxSession].length);
TS
echo '{"compilerOptions":{"target":"ES2022","module":"NodeNext","moduleResolution":"NodeNext","strict":true,"skipLibCheck":false,"noEmit":true,"types":["node"]},"include":["index.ts"]}' > tsconfig.json
npx tsc -p tsconfig.json && echo "consumer tsc --noEmit (skipLibCheck false): ok"
echo "flatten classify in the lean install:"
npx flatten classify "$root/examples/images/bag.png" --model flatten_deit_fmnist --top-k 1 || true
rm -rf "$work"
