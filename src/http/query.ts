import { z } from "zod";

/** A query-string integer: plain decimal digits in [min, max], else a 400 naming the range. */
export function queryInteger(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,16}$/, `must be an integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}
