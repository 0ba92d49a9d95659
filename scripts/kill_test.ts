/**
 * Kill test of training (`npm run killtest -- --kills 30 --seed 0`). Runs `flatten train` on a tiny image
 * folder and kills it with SIGKILL at random instants: every other kill lands the moment a checkpoint file
 * appears (the run folder is watched, so kills hit the inside of saves), the rest after a random delay.
 * After each kill the folder must hold a complete checkpoint, at a step no earlier than before, and
 * `--resume` must go on from it; each run finished that way must end with the weights, best weights and
 * metrics of an uninterrupted run, bit for bit. Exits 1 listing the failures.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Rng } from '../src/core/rng.js';
import { tempTarget } from '../src/io/files.js';
import { loadCheckpoint, RUN_FILES } from '../src/train/state.js';
import { makeImageFolder, tmp } from '../test/train/helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** 8 training images in batches of 2: 4 steps, then one evaluation and one checkpoint per epoch. */
const EPOCHS = 3;
/** A finished run that took more kills than this made no progress: something is wrong. */
const MAX_KILLS_PER_RUN = 40;

export interface KillTestOptions {
  kills: number;
  /** Seeds the kill instants (the training itself always uses the same recipe). */
  seed: number;
  log?: (line: string) => void;
}

/** Where a kill landed, judged from what it left in the run folder. */
const PLACES = [
  'inside a file write',
  'after the new state, before the commit',
  'after the commit, before the state rename',
  'outside a save',
] as const;
type Place = (typeof PLACES)[number];

export interface KillTestReport {
  kills: number;
  passed: number;
  places: Record<Place, number>;
  /** Runs brought to the end through kills and resumes, each compared with the uninterrupted run. */
  finishedRuns: number;
  failures: string[];
}

/** Kill at the n-th checkpoint file event in the run folder, or after a delay. */
type KillPlan = { events: number } | { ms: number } | null;

interface Ending {
  killed: boolean;
  code: number | null;
  stderr: string;
}

function trainArgs(data: string, out: string, resume: boolean): string[] {
  const recipe = ['--model', 'flatten_deit_fmnist', '--dataset', data, '--out', out, '--threads', '1'];
  // a restart after a kill that left no checkpoint finds the killed run's files: it starts again over them
  const fixed = ['--epochs', String(EPOCHS), '--batch-size', '2', '--seed', '5', '--overwrite'];
  return ['--import', 'tsx', 'src/cli/main.ts', 'train', ...recipe, ...(resume ? ['--resume'] : fixed)];
}

/** The files a save creates, in order: temp files, state.next.json, last.safetensors (the commit). */
const isCheckpointFile = (name: string) =>
  tempTarget(name) !== undefined || name === RUN_FILES.nextState || name === RUN_FILES.weights;

/** One `flatten train` process, killed as `plan` says (or left to finish). */
function runOnce(args: string[], out: string, plan: KillPlan): Promise<Ending> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const kill = () => child.kill('SIGKILL');
  let left = plan && 'events' in plan ? plan.events : Infinity;
  // a 'rename' event is a name appearing or going: count appearances, about 5 a save (see isCheckpointFile)
  const watcher = watch(out, (event, name) => {
    if (event === 'rename' && name && isCheckpointFile(name) && existsSync(join(out, name)) && --left === 0) kill();
  });
  const timer = plan && 'ms' in plan ? setTimeout(kill, plan.ms) : undefined;
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      watcher.close();
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', code, stderr });
    });
  });
}

/** The checkpoint files in the folder, by name, with their inodes (every atomic write makes a new one). */
function checkpointFiles(out: string): Map<string, bigint> {
  const names = readdirSync(out).filter(isCheckpointFile);
  return new Map(names.map((n) => [n, statSync(join(out, n), { bigint: true }).ino]));
}

/** Judged by the checkpoint files made since `before`: a kill's leftovers stay for the next run. */
function placeOf(out: string, before: Map<string, bigint>): Place {
  const made = [...checkpointFiles(out)].filter(([n, ino]) => before.get(n) !== ino).map(([n]) => n);
  if (made.some((n) => tempTarget(n) !== undefined)) return 'inside a file write';
  if (!made.includes(RUN_FILES.nextState)) return 'outside a save';
  return made.includes(RUN_FILES.weights)
    ? 'after the commit, before the state rename'
    : 'after the new state, before the commit';
}

/** The parts of a metrics line that do not depend on timing. */
function metricsOf(out: string): string {
  return readFileSync(join(out, RUN_FILES.metrics), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const { epoch, step, lr, train_loss, train_top1, test } = JSON.parse(line);
      return JSON.stringify({ epoch, step, lr, train_loss, train_top1, test });
    })
    .join('\n');
}

/** How a finished run differs from the uninterrupted one, if it does. */
function differences(out: string, reference: string): string[] {
  const same = (name: string) => readFileSync(join(out, name)).equals(readFileSync(join(reference, name)));
  const problems = [RUN_FILES.weights, RUN_FILES.best].filter((f) => !same(f)).map((f) => `${f} differs`);
  if (metricsOf(out) !== metricsOf(reference)) problems.push(`${RUN_FILES.metrics} differs`);
  const files = (dir: string) => readdirSync(dir).sort().join(', ');
  if (files(out) !== files(reference)) problems.push(`the folder holds ${files(out)}`);
  return problems;
}

export async function killTest(o: KillTestOptions): Promise<KillTestReport> {
  const log = o.log ?? (() => {});
  const rng = new Rng(o.seed);
  const data = await makeImageFolder(4);
  const scratch = tmp('kill');
  const report: KillTestReport = {
    kills: 0,
    passed: 0,
    places: Object.fromEntries(PLACES.map((p) => [p, 0])) as Record<Place, number>,
    finishedRuns: 0,
    failures: [],
  };
  try {
    const reference = join(scratch, 'reference');
    mkdirSync(reference);
    const straight = await runOnce(trainArgs(data, reference, false), reference, null);
    if (straight.code !== 0) throw new Error(`the uninterrupted run failed: ${straight.stderr.trim()}`);

    for (let run = 0; report.kills < o.kills; run++) {
      const out = join(scratch, `run${run}`);
      mkdirSync(out);
      let step = -1; // the checkpoint's global step; -1 while there is none
      for (let killsThisRun = 0; ; killsThisRun++) {
        if (killsThisRun > MAX_KILLS_PER_RUN) {
          report.failures.push(`run ${run}: no progress after ${MAX_KILLS_PER_RUN} kills`);
          break;
        }
        const plan: KillPlan =
          report.kills >= o.kills
            ? null
            : report.kills % 2 === 0
              ? { events: 1 + rng.int(10) }
              : { ms: Math.round(rng.uniform(500, 6000)) };
        const before = checkpointFiles(out);
        const end = await runOnce(trainArgs(data, out, step >= 0), out, plan);
        if (!end.killed) {
          if (end.code !== 0)
            report.failures.push(`run ${run}: ${step >= 0 ? '--resume' : 'train'} failed: ${end.stderr.trim()}`);
          else {
            const problems = differences(out, reference);
            if (problems.length) report.failures.push(`run ${run}: finished, but ${problems.join('; ')}`);
            else report.finishedRuns++;
          }
          break;
        }
        const kill = ++report.kills;
        const place = placeOf(out, before);
        report.places[place]++;
        const after = checkAfterKill(out, step);
        if ('problem' in after) report.failures.push(`kill ${kill} (${place}): ${after.problem}`);
        else {
          report.passed++;
          step = after.step;
        }
        log(
          `kill ${kill}/${o.kills} ${JSON.stringify(plan)}: ${place}; checkpoint at step ${step < 0 ? 'none yet' : step}`,
        );
      }
    }
  } finally {
    for (const d of [data, scratch]) rmSync(d, { recursive: true, force: true });
  }
  return report;
}

/** The global step of the checkpoint a kill left (-1: none yet), or what is wrong with it. */
function checkAfterKill(out: string, before: number): { step: number } | { problem: string } {
  if (!existsSync(join(out, RUN_FILES.weights)))
    return before < 0 ? { step: -1 } : { problem: `the checkpoint at step ${before} is gone` };
  // on a copy: the load finishes a save killed after its commit, and the next --resume should meet that itself
  const copy = `${out}.probe`;
  cpSync(out, copy, { recursive: true });
  try {
    const { globalStep } = loadCheckpoint(copy).state;
    if (globalStep < before) return { problem: `the checkpoint went back from step ${before} to ${globalStep}` };
    return { step: globalStep };
  } catch (e) {
    return { problem: `no usable checkpoint: ${(e as Error).message}` };
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { kills: { type: 'string', default: '30' }, seed: { type: 'string', default: '0' } },
  });
  const r = await killTest({ kills: Number(values.kills), seed: Number(values.seed), log: console.log });
  const places = Object.entries(r.places)
    .map(([p, n]) => `${p}: ${n}`)
    .join(', ');
  console.log(
    `kills passed: ${r.passed}/${r.kills} (${places}); runs finished bit-identical to the uninterrupted run: ${r.finishedRuns}`,
  );
  for (const f of r.failures) console.log(`FAIL ${f}`);
  process.exitCode = r.failures.length ? 1 : 0;
}
