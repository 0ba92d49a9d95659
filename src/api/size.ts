import { FlattenError } from '../core/errors.js';

/** `imgSize` as kwargs overrides; the models take square inputs. */
export function sizeOverrides(imgSize: number | [number, number] | undefined): { img_size?: number } {
  if (imgSize === undefined) return {};
  const [h, w] = typeof imgSize === 'number' ? [imgSize, imgSize] : imgSize;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1)
    throw new FlattenError('BAD_CONFIG', `imgSize must be a positive whole side or [H, W], got ${String(imgSize)}`);
  if (h !== w) throw new FlattenError('BAD_CONFIG', `imgSize ${h}×${w}: non-square inputs are not supported yet`);
  return { img_size: h };
}
