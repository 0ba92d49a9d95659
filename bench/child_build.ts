import { build } from 'esbuild';

// onnxruntime-node copies every output into a fresh ArrayBuffer. glibc hands large blocks back to the kernel on
// free, so each run's copy faults its pages in again (~1 per 4 KiB: 3136 for a 50176×64 output), and on this VM a
// fault costs up to ~12 µs: the same 1024² sgemm measured 6.5 or 19 ms by the luck of the allocator. Raising the
// thresholds (trim: 256 MiB; mmap: 32 MiB, the most glibc takes) keeps freed blocks mapped: 0 faults per run. The
// README gives users the same setting.
const KEEP_PAGES = 'glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432';
export const childEnv = { ...process.env, GLIBC_TUNABLES: process.env.GLIBC_TUNABLES ?? KEEP_PAGES };

/**
 * Children run plain compiled JavaScript, as the CLI does from dist/: under tsx, Node keeps a loader thread
 * beside the main one, and on this 2-vCPU VM 2-thread sgemm then fell into a 3× slower mode in most processes
 * (19 ms against 6.5 ms). Launched in alternation, 11 of 12 plain-node processes ran at ~6.5 ms, against 2 of 12
 * under tsx or with one idle worker thread (7 stayed at ~19 ms throughout).
 */
export async function bundleChild(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
}
