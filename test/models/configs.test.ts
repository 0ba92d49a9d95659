import { describe, expect, it } from 'vitest';
import { buildModel, buildNamed } from '../../src/models/build.js';
import { REGISTRY } from '../../src/models/registry.js';
import type { Family } from '../../src/models/model.js';
import { releasedConfigs } from '../golden.js';

const configs = releasedConfigs();

describe('every released configuration matches the official state_dict', () => {
  for (const [name, c] of Object.entries(configs)) {
    it(name, () => {
      const model = buildModel({ family: c.family as Family, constructor: c.constructor, kwargs: c.kwargs });
      const ours = Object.fromEntries([...model.table.specs.values()].map((s) => [s.path, s.shape]));
      const missing = Object.keys(c.state_dict).filter((k) => !(k in ours));
      const extra = Object.keys(ours).filter((k) => !(k in c.state_dict));
      expect({ missing, extra }).toEqual({ missing: [], extra: [] });
      for (const [k, shape] of Object.entries(c.state_dict)) expect(ours[k], k).toEqual(shape);
      expect(model.table.parameterCount()).toBe(c.parameters);
    });
  }

  it('the registry holds every released name plus FLatten-DeiT', () => {
    const names = REGISTRY.map((r) => r.name);
    for (const n of Object.keys(configs)) expect(names).toContain(n);
    expect(names).toEqual(expect.arrayContaining(['flatten_deit_tiny', 'flatten_deit_small']));
  });

  it('registry entries build to the same parameter counts as configs.json', () => {
    for (const n of Object.keys(configs)) expect(buildNamed(n).table.parameterCount(), n).toBe(configs[n].parameters);
  });

  it('FLatten-DeiT-T has about 6.2M parameters', () => {
    const p = buildNamed('flatten_deit_tiny').table.parameterCount();
    expect(p).toBeGreaterThan(6.1e6);
    expect(p).toBeLessThan(6.3e6);
  });
});
