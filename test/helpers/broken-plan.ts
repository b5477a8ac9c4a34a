import type { ImportPlan } from '../../src/store/import-plan.js';

/** The plan with its last line's quantity not a number: its lines' COPY fails (its orders still get written). */
export function withBadLastLine(plan: ImportPlan): ImportPlan {
  const rows = new TextDecoder().decode(plan.copy).split('\n');
  const last = rows[rows.length - 2].split(',');
  last[3] = 'three';
  rows[rows.length - 2] = last.join(',');
  return { ...plan, copy: new TextEncoder().encode(rows.join('\n')) };
}
