/** Bytes as megabytes with one decimal, the unit quotas are configured and shown in. */
export function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
