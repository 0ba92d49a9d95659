/**
 * A zip of stored (uncompressed) entries whose data start on 64-byte boundaries, as torch.save writes them
 * (PyTorchStreamWriter pads each local header with an extra field 'FB' of 'Z' bytes), so that a reader can
 * map a storage straight from the file. No ZIP64: an archive of 4 GiB or more is refused by name.
 */
import { FlattenError } from '../core/errors.js';
import { crc32 } from './crc32.js';
import { EOCD_SIZE, SIG_CENTRAL, SIG_EOCD, SIG_LOCAL } from './zip.js';

const ALIGN = 64;
const LOCAL_HEADER = 30;
const CENTRAL_HEADER = 46;
const LIMIT = 0xffffffff;
/** torch's padding field id: the bytes 'F', 'B'. */
const PAD_ID = 0x4246;
/** Fixed DOS date (1980-01-01 00:00): the same bytes in, the same file out. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

/** The archive's bytes; `what` names it in errors. */
export function writeStoredZip(entries: ZipInput[], what = 'zip'): Uint8Array {
  const enc = new TextEncoder();
  const names = entries.map((e) => enc.encode(e.name));
  // the layout first: offsets of each local header, its padding, and where its data starts
  let at = 0;
  const layout = entries.map((e, i) => {
    const headerEnd = at + LOCAL_HEADER + names[i].length + 4;
    const pad = (ALIGN - (headerEnd % ALIGN)) % ALIGN;
    const local = at;
    at = headerEnd + pad + e.data.length;
    return { local, pad, data: headerEnd + pad };
  });
  const cdStart = at;
  const cdSize = names.reduce((a, n) => a + CENTRAL_HEADER + n.length, 0);
  const total = cdStart + cdSize + EOCD_SIZE;
  if (total > LIMIT || entries.length > 0xffff)
    throw new FlattenError(
      'TOO_LARGE',
      `${what}: ${total} bytes in ${entries.length} entries needs ZIP64, not written`,
    );
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  const crcs = entries.map((e) => crc32(e.data));
  /** The fields a local and a central header share, from "version needed" to the name length. */
  const common = (p: number, i: number) => {
    v.setUint16(p, 20, true); // version needed: 2.0
    v.setUint16(p + 2, 0x0800, true); // flags: names are UTF-8
    v.setUint16(p + 4, 0, true); // stored
    v.setUint16(p + 6, 0, true); // time
    v.setUint16(p + 8, DOS_DATE, true);
    v.setUint32(p + 10, crcs[i], true);
    v.setUint32(p + 14, entries[i].data.length, true);
    v.setUint32(p + 18, entries[i].data.length, true);
    v.setUint16(p + 22, names[i].length, true);
  };
  entries.forEach((e, i) => {
    const { local, pad, data } = layout[i];
    v.setUint32(local, SIG_LOCAL, true);
    common(local + 4, i);
    v.setUint16(local + 28, 4 + pad, true);
    out.set(names[i], local + LOCAL_HEADER);
    const extra = local + LOCAL_HEADER + names[i].length;
    v.setUint16(extra, PAD_ID, true);
    v.setUint16(extra + 2, pad, true);
    out.fill(0x5a, extra + 4, extra + 4 + pad); // 'Z'
    out.set(e.data, data);
  });
  let p = cdStart;
  entries.forEach((_, i) => {
    v.setUint32(p, SIG_CENTRAL, true);
    v.setUint16(p + 4, 20, true); // version made by
    common(p + 6, i);
    // extra, comment, disk, internal and external attributes: none
    v.setUint32(p + 42, layout[i].local, true);
    out.set(names[i], p + CENTRAL_HEADER);
    p += CENTRAL_HEADER + names[i].length;
  });
  v.setUint32(p, SIG_EOCD, true);
  v.setUint16(p + 8, entries.length, true);
  v.setUint16(p + 10, entries.length, true);
  v.setUint32(p + 12, cdSize, true);
  v.setUint32(p + 16, cdStart, true);
  return out;
}
