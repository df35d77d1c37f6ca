/** The `default` of an exhaustive switch: unreachable while every case is handled. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}
