/**
 * Seeded mutation fuzzer over the readers (see scripts/fuzz/run.ts for what counts as a defect).
 *
 *   npm run fuzz -- --seconds 30            all formats, the time split evenly between them
 *   npm run fuzz -- --inputs 10000 --long   each input also in a child process (2 s, 512 MB peak RSS),
 *                                           and ONNX Runtime loading the ONNX inputs that our check passes
 *   options: --seed S (default 1), --format pth,npy,..., --from I (first index; with --inputs 1, a replay)
 *
 * ORT is native code that we do not fix: a crash while it loads is counted ('ort-abort'), not a defect.
 * Exit status 1 when any input is a defect.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  count,
  fuzzInProcess,
  input,
  judge,
  newCounters,
  report,
  type Counters,
  type FuzzOptions,
} from './fuzz/run.js';
import { makeTargets, type Target } from './fuzz/targets.js';

const TIME_LIMIT_MS = 2000;
const MEMORY_LIMIT = 512 * 2 ** 20;

interface Job {
  formatIndex: number;
  seedIndex: number;
  bytes: Uint8Array;
}
interface Reply {
  verdict: Awaited<ReturnType<typeof judge>>;
  ort?: 'ort-loaded' | 'ort-refused';
  peakRss: number;
}

/** Child side: read one input per message, answer with the verdict, the ORT result and the peak RSS so far. */
async function child(): Promise<void> {
  const targets = await makeTargets();
  const ort = await import('onnxruntime-node');
  process.on('message', async (job: Job) => {
    const target = targets[job.formatIndex];
    const verdict = await judge(target, job.bytes, job.seedIndex);
    let ortResult: Reply['ort'];
    if (target.format === 'onnx' && verdict.outcome === 'accepted') {
      process.send!({ phase: 'ort' });
      try {
        await (await ort.InferenceSession.create(job.bytes, { logSeverityLevel: 4 })).release();
        ortResult = 'ort-loaded';
      } catch {
        ortResult = 'ort-refused';
      }
    }
    process.send!({ verdict, ort: ortResult, peakRss: process.resourceUsage().maxRSS * 1024 } satisfies Reply);
  });
  process.send!({ ready: true });
}

/** A child process that runs inputs one at a time, and is replaced when it dies, hangs or grows past the limit. */
class Worker {
  private proc?: ChildProcess;

  private start(): Promise<ChildProcess> {
    const proc = fork(fileURLToPath(import.meta.url), ['--child'], {
      execArgv: [...process.execArgv, '--max-old-space-size=512'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      proc.once('message', () => resolve(proc));
      proc.once('exit', (code, signal) => reject(new Error(`fuzz child failed to start (${signal ?? code})`)));
    });
  }

  stop(): void {
    this.proc?.kill('SIGKILL');
    this.proc = undefined;
  }

  /** Run one input; a death or timeout comes back as a defect, a death inside ORT as 'ort-abort'. */
  async run(job: Job): Promise<{ defect?: string; reply?: Reply; ortAbort?: boolean }> {
    const proc = (this.proc ??= await this.start());
    let inOrt = false;
    const result = await new Promise<{ defect?: string; reply?: Reply; ortAbort?: boolean }>((resolve) => {
      const timer = setTimeout(() => resolve({ defect: `took more than ${TIME_LIMIT_MS} ms` }), TIME_LIMIT_MS);
      const onMessage = (m: Reply | { phase: string }) => {
        if ('phase' in m) return void (inOrt = true);
        finish({ reply: m });
      };
      const onExit = (code: number | null, signal: string | null) =>
        finish(inOrt ? { ortAbort: true } : { defect: `child process died (${signal ?? `exit ${code}`})` });
      const finish = (r: { defect?: string; reply?: Reply; ortAbort?: boolean }) => {
        clearTimeout(timer);
        proc.off('message', onMessage);
        proc.off('exit', onExit);
        resolve(r);
      };
      proc.on('message', onMessage);
      proc.on('exit', onExit);
      proc.send(job);
    });
    const peak = result.reply?.peakRss ?? 0;
    if (!result.reply || peak > MEMORY_LIMIT) this.stop(); // a fresh child, so the next peak is its own
    if (peak > MEMORY_LIMIT)
      return { defect: `peak RSS ${Math.round(peak / 2 ** 20)} MB, over ${MEMORY_LIMIT / 2 ** 20} MB` };
    return result;
  }
}

async function fuzzInChild(target: Target, formatIndex: number, o: FuzzOptions, worker: Worker): Promise<Counters> {
  const c = newCounters(target.format);
  const stop = Date.now() + o.seconds * 1000;
  for (let i = o.from ?? 0; c.inputs < o.inputs && Date.now() < stop; i++) {
    const { seedIndex, bytes } = input(target, formatIndex, o.seed, i);
    const r = await worker.run({ formatIndex, seedIndex, bytes });
    if (r.ortAbort) c.outcomes['ort-abort'] = (c.outcomes['ort-abort'] ?? 0) + 1;
    if (r.reply?.ort) c.outcomes[r.reply.ort] = (c.outcomes[r.reply.ort] ?? 0) + 1;
    c.peakRss = Math.max(c.peakRss ?? 0, r.reply?.peakRss ?? 0);
    count(c, i, r.reply?.verdict ?? { outcome: r.defect ? 'defect' : 'accepted', defect: r.defect, charged: 0 });
  }
  return c;
}

function parseArgs(argv: string[]) {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, fallback: number) => {
    const v = get(name);
    if (v === undefined) return fallback;
    if (!/^\d+(\.\d+)?$/.test(v)) throw new Error(`--${name} takes a number, got ${v}`);
    return Number(v);
  };
  const inputs = num('inputs', Infinity);
  return {
    seed: num('seed', 1),
    inputs,
    seconds: num('seconds', inputs === Infinity ? 30 : Infinity),
    from: num('from', 0),
    long: argv.includes('--long'),
    formats: get('format')?.split(','),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const targets = await makeTargets();
  const chosen = targets.filter((t) => !args.formats || args.formats.includes(t.format));
  const perFormat = { ...args, seconds: args.seconds / chosen.length };
  const worker = new Worker();
  let defects = 0;
  console.log(
    `fuzz: seed ${args.seed}, ${args.long ? 'child processes (2 s, 512 MB)' : 'in process'}, ` +
      `${args.inputs === Infinity ? `${perFormat.seconds.toFixed(1)} s` : `${args.inputs} inputs`} per format`,
  );
  for (const t of chosen) {
    const i = targets.indexOf(t);
    const c = args.long ? await fuzzInChild(t, i, perFormat, worker) : await fuzzInProcess(t, i, perFormat);
    console.log(report(c));
    defects += c.defects.length;
  }
  worker.stop();
  console.log(defects ? `fuzz: ${defects} defect(s)` : 'fuzz: no defects');
  process.exit(defects ? 1 : 0);
}

await (process.argv.includes('--child') ? child() : main());
