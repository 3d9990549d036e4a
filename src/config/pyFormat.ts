/**
 * Python's str()/repr() of config values, so run names and SAE ids read exactly as SAELens
 * writes them (`2048-L1-0.001-LR-0.0003-Tokens-2.000e+06`). JSON cannot tell 5 from 5.0, so an
 * integer-valued number is printed as a Python int.
 */

/** Python `repr(float)`: shortest round-trip digits, scientific below 1e-4 and from 1e16. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  // toExponential() with no argument gives the shortest digits that round-trip, as repr does.
  const [mant, expStr] = x.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  if (exp >= -4 && exp < 16) {
    const neg = mant.startsWith('-');
    const digits = mant.replace('-', '').replace('.', '');
    let s: string;
    if (exp < 0) s = `0.${'0'.repeat(-exp - 1)}${digits}`;
    else if (digits.length > exp + 1) s = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
    else s = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
    return neg ? `-${s}` : s;
  }
  return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** Python `str(value)` for the values configs hold. */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return Number.isSafeInteger(v) ? String(v) : pyFloat(v);
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return String(v);
}

/** Python `repr(value)`: strings quoted, the rest as str(). */
export function pyRepr(v: unknown): string {
  return typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : pyStr(v);
}

/** Python `format(n, "3.3e")`: 3 decimals, exponent with sign and at least 2 digits. */
export function pyExp3(n: number): string {
  const [mant, exp] = n.toExponential(3).split('e') as [string, string];
  const e = Number(exp);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}
