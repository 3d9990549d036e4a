/**
 * Scalar io-ts codecs for runner-config fields. Each codec's `name` is written as the
 * "expected" half of an error line ("expected a positive integer, got -3"), so the names are
 * phrases a user can read, not type syntax.
 */
import * as t from 'io-ts';

/** A codec whose decoded type is A and whose input is anything (what JSON/YAML give). */
export type Codec<A> = t.Type<A, unknown, unknown>;

function refine<A>(
  name: string,
  is: (u: unknown) => u is A,
): Codec<A> {
  return new t.Type<A, unknown, unknown>(
    name,
    is,
    (u, c) => (is(u) ? t.success(u) : t.failure(u, c)),
    (a) => a,
  );
}

const isFiniteNumber = (u: unknown): u is number => typeof u === 'number' && Number.isFinite(u);

export const Bool: Codec<boolean> = refine('a boolean (true or false)', (u): u is boolean => typeof u === 'boolean');
export const Str: Codec<string> = refine('a string', (u): u is string => typeof u === 'string');
export const NonEmptyStr: Codec<string> = refine(
  'a non-empty string',
  (u): u is string => typeof u === 'string' && u.length > 0,
);
export const Num: Codec<number> = refine('a finite number', isFiniteNumber);
export const PositiveNum: Codec<number> = refine('a positive number', (u): u is number => isFiniteNumber(u) && u > 0);
export const NonNegativeNum: Codec<number> = refine(
  'a number >= 0',
  (u): u is number => isFiniteNumber(u) && u >= 0,
);
export const Int: Codec<number> = refine('an integer', (u): u is number => Number.isSafeInteger(u));
export const PositiveInt: Codec<number> = refine(
  'a positive integer',
  (u): u is number => Number.isSafeInteger(u) && (u as number) > 0,
);
export const NonNegativeInt: Codec<number> = refine(
  'an integer >= 0',
  (u): u is number => Number.isSafeInteger(u) && (u as number) >= 0,
);
/** Adam betas: torch.optim.Adam rejects anything outside [0, 1). */
export const UnitInterval: Codec<number> = refine(
  'a number in [0, 1)',
  (u): u is number => isFiniteNumber(u) && u >= 0 && u < 1,
);
/** A probability in (0, 1]. */
export const Probability: Codec<number> = refine(
  'a number in (0, 1]',
  (u): u is number => isFiniteNumber(u) && u > 0 && u <= 1,
);
export const StrRecord: Codec<Record<string, unknown>> = refine(
  'an object (mapping)',
  (u): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u),
);

/** One of a fixed set of strings; the error lists them. */
export function oneOf<const S extends string>(values: readonly S[]): Codec<S> {
  return refine(`one of ${values.map((v) => JSON.stringify(v)).join(' | ')}`, (u): u is S =>
    typeof u === 'string' && (values as readonly string[]).includes(u),
  );
}

/** `null` (Python None) or the inner codec. `undefined` never reaches codecs: it means "absent". */
export function nullable<A>(inner: Codec<A>): Codec<A | null> {
  return new t.Type<A | null, unknown, unknown>(
    `${inner.name} or null`,
    (u): u is A | null => u === null || inner.is(u),
    (u, c) => (u === null ? t.success(null) : inner.validate(u, c)),
    (a) => a,
  );
}
