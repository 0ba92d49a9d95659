import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** A synthetic RGB test picture (a disc and a bar on a gradient), written as PNG or JPEG. */
export async function samplePicture(
  file: string,
  width = 320,
  height = 240,
  format: 'png' | 'jpeg' = 'png',
): Promise<void> {
  const d = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const disc = (x - width / 3) ** 2 + (y - height / 2) ** 2 < (height / 4) ** 2;
      d[i] = disc ? 220 : (x * 200) / width;
      d[i + 1] = disc ? 40 : (y * 200) / height;
      d[i + 2] = x > (width * 2) / 3 && y > height / 4 && y < (height * 3) / 4 ? 230 : 60;
    }
  }
  await sharp(d, { raw: { width, height, channels: 3 } })
    [format]()
    .toFile(file);
}

function chunk(type: string, body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  const crcInput = Buffer.concat([Buffer.from(type), body]);
  let c = ~0;
  for (const b of crcInput) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(~c >>> 0);
  return Buffer.concat([len, Buffer.from(type), body, crc]);
}

/** A tiny PNG whose header claims side×side pixels (a "decompression bomb" shape). */
export function hugePngHeader(file: string, side = 40000): void {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  writeFileSync(
    file,
    Buffer.concat([
      sig,
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.alloc(side + 1))),
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
}
