/**
 * Skipping honestly: a check that cannot run here is declared `test.skip` with the reason in its
 * title (ava lists it as skipped), never a test that passes without checking anything.
 */

/** A test title, with why it is skipped when it is. */
export function titled(title: string, skipReason: string | undefined): string {
  return skipReason === undefined ? title : `${title} (skipped: ${skipReason})`;
}
