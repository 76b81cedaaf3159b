// Percentiles, number formatting and the results table.

/** Nearest-rank percentile of unsorted values. */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export const median = (values) => percentile(values, 50);
export const sum = (values) => values.reduce((a, b) => a + b, 0);

/** 1234.5 → "1,235"; 12.345 → "12.3"; 0.1234 → "0.123": three significant figures at most for small values. */
export function num(value) {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

export const ms = (value) => `${num(value)} ms`;
export const mb = (bytes) => `${num(bytes / 1e6)} MB`;

/**
 * One line of the results table. `ratio` is Pixa ÷ baseline in the direction the target states;
 * `met` says whether the target holds (informational only: benchmarks assert nothing).
 */
export function row(section, name, pixa, baseline, ratio, target, met, note) {
  return { section, name, pixa, baseline, ratio, target, met, note };
}

/** The table of every row, as aligned text (for the terminal) or as Markdown (for docs/BENCHMARKS.md). */
export function renderTable(rows, { markdown = false } = {}) {
  const header = ['Section', 'Case', 'Pixa', 'Baseline', 'Ratio', 'Target', ''];
  const lines = rows.map((r) => [
    r.section,
    r.name,
    r.pixa,
    r.baseline ?? '',
    Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : '',
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
  ]);
  if (markdown) {
    const escape = (cell) => String(cell).replaceAll('|', '\\|');
    return [header, header.map(() => '---'), ...lines]
      .map((cells) => `| ${cells.map(escape).join(' | ')} |`)
      .join('\n');
  }
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((cells) => String(cells[i]).length)));
  const format = (cells) =>
    cells
      .map((cell, i) => String(cell).padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(format)].join('\n');
}
