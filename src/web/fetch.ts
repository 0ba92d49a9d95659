import { FlattenError } from '../core/errors.js';

/** What a pipeline reports while it loads: downloads (bytes), the graph build, the ONNX Runtime session. */
export interface WebProgress {
  stage: 'download' | 'build' | 'session';
  /** The URL or file name concerned. */
  file?: string;
  loaded: number;
  /** Bytes to download, when the server sends content-length. */
  total?: number;
}

export interface Loader {
  fetch: typeof fetch;
  onProgress?: (p: WebProgress) => void;
}

const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0];

/** A URL's bytes, streamed with progress; HTTP errors and network failures are BAD_FILE naming the URL. */
export async function download(url: string, l: Loader): Promise<Uint8Array> {
  return (await get(url, l, false))!;
}

/** `download`, but a 404 is undefined (a model folder's file it may not have). */
export function downloadIfThere(url: string, l: Loader): Promise<Uint8Array | undefined> {
  return get(url, l, true);
}

async function get(url: string, l: Loader, optional: boolean): Promise<Uint8Array | undefined> {
  let res: Response;
  try {
    res = await l.fetch(url);
  } catch (e) {
    throw new FlattenError('BAD_FILE', `${url}: could not fetch (${firstLine(e)})`);
  }
  if (optional && res.status === 404) return undefined;
  if (!res.ok)
    throw new FlattenError('BAD_FILE', `${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  const total = Number(res.headers.get('content-length')) || undefined;
  l.onProgress?.({ stage: 'download', file: url, loaded: 0, total });
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    l.onProgress?.({ stage: 'download', file: url, loaded: bytes.length, total });
    return bytes;
  }
  // chunks kept until the end: content-length may be absent or (compressed transfers) not the decoded size
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      l.onProgress?.({ stage: 'download', file: url, loaded, total });
    }
  } catch (e) {
    throw new FlattenError('BAD_FILE', `${url}: download failed after ${loaded} bytes (${firstLine(e)})`);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}
