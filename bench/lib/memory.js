// Resident memory of a process from /proc/<pid>/status (Linux): the current RSS and its peak.
import { readFileSync, writeFileSync } from 'node:fs';

export function readMemory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/** Resets the kernel's peak-RSS counter (VmHWM) to the current RSS; false where that is not allowed. */
export function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Samples a process's RSS every `everyMs` until stopped. `stop()` returns the peak: the highest
 * sample, or the kernel's VmHWM when the peak counter could be reset first (it misses nothing).
 */
export function watchMemory(pid, everyMs = 10) {
  const exact = resetPeak(pid);
  const start = readMemory(pid).rss;
  let peak = start;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, readMemory(pid).rss);
    } catch {
      // the process exited; stop() reports what was seen
    }
  }, everyMs);
  return {
    start,
    stop() {
      clearInterval(timer);
      let hwm = NaN;
      try {
        const now = readMemory(pid);
        peak = Math.max(peak, now.rss);
        hwm = now.hwm;
      } catch {
        // as above
      }
      return { start, peak: exact && Number.isFinite(hwm) ? Math.max(peak, hwm) : peak, exact };
    },
  };
}

export const procAvailable = () => {
  try {
    readMemory(process.pid);
    return true;
  } catch {
    return false;
  }
};

/** CPU time (user + system, ms) used so far by a process and its children that are still running. */
export function cpuMs(pid) {
  let total = 0;
  const visit = (id) => {
    try {
      const fields = readFileSync(`/proc/${id}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms (USER_HZ 100)
      const children = readFileSync(`/proc/${id}/task/${id}/children`, 'utf8').trim();
      for (const child of children ? children.split(/\s+/) : []) visit(Number(child));
    } catch {
      // gone, or not Linux
    }
  };
  visit(pid);
  return total;
}
