/** Test helper: an architecture's fields decoded (its field table's defaults with `given` over them). */
import { tableDefaults } from '../../src/config/fields.js';
import { architectureOf } from '../../src/sae/architectures/registry.js';

export function withDefaults(arch: string, given: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...tableDefaults(architectureOf(arch).fields), ...given };
}
