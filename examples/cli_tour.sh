#!/usr/bin/env bash
# The CLI tour: every command here runs as written, on the model that ships with the package.
#   bash examples/cli_tour.sh
set -euo pipefail
out=$(mktemp -d)
flatten() { node "$(dirname "$0")/../bin/flatten.js" "$@"; }   # or: npx flatten …

flatten list | head -4                                         # the registry
flatten info flatten_swin_t --img-size 448                     # parameters and MACs per stage, at 448²
flatten classify examples/images/*.png --model flatten_deit_fmnist --top-k 2
flatten export flatten_deit_fmnist --output "$out/fmnist.onnx" # input pixel_values → logits, pooler_output
flatten classify examples/images/bag.png --onnx "$out/fmnist.onnx" --top-k 1
flatten export flatten_deit_fmnist --format folder --dtype fp32,q8 --out "$out/fmnist" | tail -1  # transformers.js layout
flatten classify examples/images/bag.png --onnx "$out/fmnist" --dtype q8 --top-k 1   # int8 Linears
flatten convert weights/flatten_deit_fmnist.safetensors "$out/fmnist.pth"   # {'model': state_dict} for PyTorch
flatten fuse-wasm node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm "$out/ort.fma.wasm"  # relaxed SIMD, for fmaWasm
flatten info flatten_pvt_v2_b0 --img-size 224,288 | head -2                  # any H×W for PVT and PVTv2
flatten rank --model flatten_deit_fmnist --image examples/images/tshirt.png --out "$out/rank" | tail -3
flatten attention --model flatten_deit_fmnist --image examples/images/tshirt.png --out "$out/maps" | tail -1
flatten features --model flatten_deit_fmnist --image examples/images/bag.png --out "$out/features" | tail -1
