/** A positive integer from a storage URL's query, or `fallback` when absent; `scheme` names the URL in errors. */
export function positiveIntParam(params: URLSearchParams, name: string, fallback: number, scheme: string): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0)
    throw new Error(`${scheme} storage URL: ${name} must be a positive integer`);
  return value;
}
